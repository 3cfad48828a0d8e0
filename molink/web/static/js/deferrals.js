// Deferring a FLASH alarm: the officer gives a reason and a time; the alarm comes
// back when the time is up. The node records it when it has the endpoint
// (POST /api/v1/messages/{id}/defer); until then the deferral lives in this
// browser (sessionStorage) and is shown on the message.
import { ApiError, has, post } from "./api.js";
import { state } from "./store.js";

const KEY = "molink.deferrals";

function load() {
  try {
    return JSON.parse(sessionStorage.getItem(KEY) || "{}");
  } catch {
    return {};
  }
}

let deferrals = load();

function save() {
  try {
    sessionStorage.setItem(KEY, JSON.stringify(deferrals));
  } catch {
    /* memory only */
  }
}

/** The deferral of a message, or null. */
export function deferral(id) {
  return deferrals[id] || null;
}

/** Is the message's alarm deferred right now? */
export function isDeferred(id, now = Date.now()) {
  const d = deferrals[id];
  return Boolean(d && Date.parse(d.until) > now);
}

/** Record a deferral; returns it with ``recorded`` "node" or "local". */
export async function defer(id, reason, minutes) {
  const at = new Date();
  const until = new Date(at.getTime() + minutes * 60_000);
  const entry = {
    id,
    reason,
    minutes,
    at: at.toISOString(),
    until: until.toISOString(),
    by: state.session?.operator || null,
    recorded: "local",
  };
  if (has(`/api/v1/messages/{message_id}/defer`, "post")) {
    try {
      await post(`/api/v1/messages/${encodeURIComponent(id)}/defer`, { reason, minutes });
      entry.recorded = "node";
    } catch (exc) {
      if (!(exc instanceof ApiError) || !exc.missing) throw exc;
    }
  }
  deferrals[id] = entry;
  save();
  return entry;
}

export function clearDeferrals() {
  deferrals = {};
  save();
}
