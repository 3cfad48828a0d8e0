// Live updates over Server-Sent Events (GET /api/v1/events). The stream is read with
// fetch() so the token travels in the Authorization header (not in the URL), and so
// every event kind is seen, including kinds added later. Each event is re-published
// in the page as "molink:event"; screens refresh what they show. After a reconnect
// a "resync" event makes everything be re-read, so nothing missed stays unseen.
import { currentToken } from "./api.js";
import { update } from "./store.js";

let controller = null;
let retry = null;
let backoff = 500;

function dispatch(kind, data) {
  document.dispatchEvent(new CustomEvent("molink:event", { detail: { ...data, kind } }));
}

/** Parse one SSE block ("event: x\ndata: {...}"); comments and keepalives yield null. */
export function parseBlock(block) {
  let kind = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (line.startsWith("event:")) kind = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
  }
  if (data.length === 0) return kind === "message" ? null : { kind, data: {} };
  try {
    return { kind, data: JSON.parse(data.join("\n")) };
  } catch {
    return { kind, data: {} };
  }
}

async function pump(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replaceAll("\r\n", "\n");
    let cut = buffer.indexOf("\n\n");
    while (cut >= 0) {
      const event = parseBlock(buffer.slice(0, cut));
      buffer = buffer.slice(cut + 2);
      if (event?.kind === "revoked") return "revoked";
      if (event) dispatch(event.data.kind || event.kind, event.data);
      cut = buffer.indexOf("\n\n");
    }
  }
}

async function run(signal) {
  const token = currentToken();
  const response = await fetch("/api/v1/events", {
    headers: { Authorization: `Bearer ${token}`, Accept: "text/event-stream" },
    cache: "no-store",
    signal,
  });
  if (response.status === 401) {
    document.dispatchEvent(new CustomEvent("molink:unauthenticated"));
    return false;
  }
  if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
  backoff = 500;
  update({ live: "live" });
  dispatch("resync", {});
  if ((await pump(response)) === "revoked") {
    // docs/roles.md: the credential was revoked; do not reconnect.
    document.dispatchEvent(new CustomEvent("molink:unauthenticated"));
    return false;
  }
  return true;
}

/** Open the stream; it reconnects by itself until ``disconnect()``. */
export function connect() {
  disconnect();
  if (!currentToken()) return;
  const mine = new AbortController();
  controller = mine;
  update({ live: "connecting" });
  run(mine.signal)
    .then((again) => again && reconnectLater(mine))
    .catch(() => reconnectLater(mine));
}

function reconnectLater(mine) {
  if (controller !== mine) return;
  update({ live: "offline" });
  clearTimeout(retry);
  retry = setTimeout(connect, backoff);
  backoff = Math.min(backoff * 2, 5000);
}

export function disconnect() {
  clearTimeout(retry);
  if (controller) controller.abort();
  controller = null;
}
