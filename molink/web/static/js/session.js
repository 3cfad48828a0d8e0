// Sign-in (docs/roles.md "Login contract"): an operator session from an enrolled,
// approved terminal (password + TOTP + the terminal's signature over a one-time
// challenge), or an API token pasted by the operator (as automation clients use).
// The session lives in sessionStorage: it ends when the tab closes.
import { ApiError, get, has, post, request, setHeader, setToken } from "./api.js";
import { update } from "./store.js";
import { signLines, terminal } from "./terminal.js";

const KEY = "molink.session";

export function restore() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(KEY) || "null");
    if (saved?.token) {
      setToken(saved.token);
      setHeader("X-Molink-Location", saved.location || null);
      return saved;
    }
  } catch {
    /* corrupt or unavailable storage: sign in again */
  }
  return null;
}

function remember(session) {
  try {
    sessionStorage.setItem(KEY, JSON.stringify(session));
  } catch {
    /* keep it in memory only */
  }
  update({ session, party: session.party });
}

/** Who the token belongs to and what it may do (GET /api/v1/session), if the node says. */
async function whoami() {
  if (!has("/api/v1/session", "get")) return {};
  try {
    return await get("/api/v1/session");
  } catch (exc) {
    if (exc instanceof ApiError && (exc.missing || exc.status === 403)) return {};
    throw exc;
  }
}

async function establish(kind, token, extra = {}) {
  setToken(token);
  try {
    const status = await get("/api/v1/health");
    const me = await whoami();
    const session = {
      kind,
      token,
      party: status.party,
      operator: me.operator || extra.operator || null,
      role: me.role || extra.role || null,
      permissions: me.permissions || null,
      expires: extra.expires || null,
      location: extra.location || null,
    };
    remember(session);
    return session;
  } catch (exc) {
    setToken(null);
    throw exc;
  }
}

/** Check a pasted token against the node; returns the session. */
export async function signInWithToken(token, location) {
  setHeader("X-Molink-Location", location || null);
  const session = await establish("token", token.trim(), { location });
  await get("/api/v1/status").catch((exc) => {
    if (exc instanceof ApiError && exc.status === 401) throw exc;
  });
  return session;
}

/** Is operator sign-in available on this node? */
export function operatorLoginAvailable() {
  return has("/api/v1/session", "post") && has("/api/v1/session/challenge", "post");
}

/** Operator sign-in: challenge, terminal signature, password and TOTP. */
export async function signInOperator({ operator, password, totp, location }) {
  const term = await terminal();
  setHeader("X-Molink-Location", location || null);
  const challenge = await post("/api/v1/session/challenge", { terminal: term.id });
  const lines = ["molink-login-v1", challenge.party, term.id, operator, challenge.challenge];
  const signature = await signLines(lines);
  const answer = await post("/api/v1/session", {
    operator, password, totp, terminal: term.id, challenge: challenge.challenge, signature,
  });
  return establish("operator", answer.token, { ...answer, location });
}

/** Enrol this browser as a console terminal (pending until an administrator approves). */
export async function enrolTerminal({ unit, label }) {
  const term = await terminal();
  const { party } = await get("/api/v1/health");
  const proof = await signLines(["molink-enrol-v1", party, term.publicKey, "console", unit, label]);
  return post("/api/v1/terminals", { public_key: term.publicKey, kind: "console", unit, label, proof });
}

/** Is this terminal approved? Asks for a challenge (which is then left unused). */
export async function terminalState() {
  const term = await terminal();
  try {
    await post("/api/v1/session/challenge", { terminal: term.id });
    return { ready: true, detail: "" };
  } catch (exc) {
    if (exc instanceof ApiError && exc.status === 401) return { ready: false, detail: exc.message };
    throw exc;
  }
}

/** End the session here (and on the node when it has sessions). */
export async function signOut() {
  if (has("/api/v1/session", "delete")) {
    try {
      await request("DELETE", "/api/v1/session");
    } catch (exc) {
      if (!(exc instanceof ApiError)) throw exc;
    }
  }
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    /* nothing stored */
  }
  setToken(null);
  setHeader("X-Molink-Location", null);
  update({ session: null });
}

