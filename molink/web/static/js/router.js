// Hash routes (#/inbox, #/message/<id>, ...) to screens. Screens load on demand.
import { $, $$ } from "./dom.js";
import { t } from "./i18n.js";
import { state } from "./store.js";

export const SCREENS = [
  // [route, module, export, nav key, shortcut]
  ["inbox", "./views/messages.js", "inbox", "g i"],
  ["outbox", "./views/messages.js", "outbox", "g o"],
  ["compose", "./views/compose.js", "compose", "c"],
  ["channels", "./views/channels.js", "channels", "g h"],
  ["status", "./views/status.js", "status", "g s"],
  ["map", "./views/map.js", "mapView", "g m"],
  ["incidents", "./views/incidents.js", "incidents", "g n"],
  ["ledger", "./views/ledger.js", "ledger", "g d"],
  ["log", "./views/log.js", "log", "g l"],
  ["evidence", "./views/evidence.js", "evidence", "g e"],
];
const DETAIL = {
  message: ["./views/message.js", "message", "inbox"],
  channel: ["./views/channels.js", "channel", "channels"],
  incidents: ["./views/incidents.js", "incidents", "incidents"],
  ledger: ["./views/ledger.js", "ledger", "ledger"],
};

let active = null;
let poller = null;
let generation = 0;

/** "#/message/abc?x=1" -> {name: "message", params: {id: "abc", x: "1"}}. */
export function parse(hash) {
  const [path, qs] = (hash.replace(/^#\/?/, "") || "inbox").split("?");
  const [name, id] = path.split("/").map(decodeURIComponent);
  const params = Object.fromEntries(new URLSearchParams(qs || ""));
  if (id) params.id = id;
  return { name, params };
}

function resolve(name, params) {
  if (params.id && DETAIL[name]) return DETAIL[name];
  const screen = SCREENS.find((s) => s[0] === name) || SCREENS[0];
  return [screen[1], screen[2], screen[0]];
}

export function activeView() {
  return active;
}

/** Show the screen for the current hash. */
export async function route() {
  const mine = ++generation;
  const { name, params } = parse(location.hash);
  const [path, exported, navId] = resolve(name, params);
  const view = (await import(path))[exported];
  if (mine !== generation) return;
  active?.dispose?.();
  clearInterval(poller);
  active = view;
  markNav(navId);
  document.title = `${t(view.title)} — molink ${state.party || ""}`.trim();
  // Each screen renders into a host of its own: a slower screen left behind (its
  // data still loading when the officer moved on) then fills a detached element
  // instead of overwriting the screen now shown.
  const main = $("#main");
  const host = document.createElement("div");
  host.className = "screen";
  main.replaceChildren(host);
  main.dataset.screen = view.id;
  await view.render(host, params);
  if (view.every) poller = setInterval(() => view.refresh?.({ kind: "poll" }), view.every);
  if (mine === generation) focusHeading(main);
}

function markNav(navId) {
  for (const link of $$("#nav a")) {
    if (link.dataset.screen === navId) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function focusHeading(main) {
  if (main.contains(document.activeElement) && document.activeElement !== main) return;
  if ($("#alarm") && !$("#alarm").hidden) return;
  (main.querySelector("h1[tabindex]") || main).focus({ preventScroll: true });
}

export function stop() {
  active?.dispose?.();
  clearInterval(poller);
  active = null;
}
