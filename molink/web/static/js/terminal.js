// This browser as a terminal: an Ed25519 key pair made with WebCrypto, kept in
// IndexedDB with a non-extractable private key. The node knows only the public key
// (molink/core/terminal.py): id = "trm-" + 20 hex of SHA-256(public key), and a
// fingerprint of six 5-digit groups to compare with the administrator's screen.

const DB_NAME = "molink-terminal";
const STORE = "keys";
const KEY_ID = "terminal";
let cached = null;

function openDb() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function idb(mode, action) {
  const db = await openDb();
  try {
    return await new Promise((resolve, reject) => {
      const req = action(db.transaction(STORE, mode).objectStore(STORE));
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  } finally {
    db.close();
  }
}

export function b64url(bytes) {
  let text = "";
  for (const b of new Uint8Array(bytes)) text += String.fromCharCode(b);
  return btoa(text).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

const hex = (bytes) => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");

async function describe(pair) {
  const raw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  const id = `trm-${hex(await sha256(raw)).slice(0, 20)}`;
  const label = new TextEncoder().encode("molink-terminal-v1\n");
  const digest = await sha256(new Uint8Array([...label, ...raw]));
  const view = new DataView(digest.buffer);
  const groups = [0, 1, 2, 3, 4, 5].map((i) => String(view.getUint32(i * 4) % 100000).padStart(5, "0"));
  return { pair, raw, publicKey: b64url(raw), id, fingerprint: groups.join(" ") };
}

/** Does this browser support Ed25519 in WebCrypto (Chromium 137+)? */
export function supported() {
  return Boolean(globalThis.crypto?.subtle && globalThis.indexedDB);
}

/** This browser's terminal key (made on first use). */
export async function terminal() {
  if (cached) return cached;
  let pair = await idb("readonly", (s) => s.get(KEY_ID));
  if (!pair) {
    pair = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
    await idb("readwrite", (s) => s.put(pair, KEY_ID));
  }
  cached = await describe(pair);
  return cached;
}

/** Sign lines joined by "\n" with a final "\n" (the texts of molink/core/terminal.py). */
export async function signLines(lines) {
  const term = await terminal();
  const text = new TextEncoder().encode(`${lines.join("\n")}\n`);
  return b64url(await crypto.subtle.sign({ name: "Ed25519" }, term.pair.privateKey, text));
}

/** Forget this terminal's key (a new key means a new enrolment). */
export async function forget() {
  cached = null;
  await idb("readwrite", (s) => s.delete(KEY_ID));
}
