// The console's entry point: sign-in, the frame (navigation, clock, live state),
// live events, and the FLASH alarm watch that runs whatever screen is open.
import * as alarm from "./alarm.js";
import { get, loadCapabilities, query } from "./api.js";
import { $, h, replace, select } from "./dom.js";
import { initialLang, LANGUAGES, lang, setLang, t, translateStatic } from "./i18n.js";
import * as keys from "./keys.js";
import * as live from "./live.js";
import { activeView, route, SCREENS, stop as stopRouter } from "./router.js";
import { restore, signOut } from "./session.js";
import { state, update } from "./store.js";
import { dtg, utcClock } from "./time.js";
import * as ui from "./ui.js";
import { login } from "./views/login.js";

const REFRESH_DEBOUNCE_MS = 120;
let refreshTimer = null;
let pendingEvents = [];
let inboxTimer = null;

// -- frame ------------------------------------------------------------------------

function buildNav() {
  const list = $("#nav-list");
  replace(list, SCREENS.map(([id, , , shortcut]) => h("li", {},
    h("a", { href: `#/${id}`, "data-screen": id, "aria-keyshortcuts": shortcut.replace(" ", "+") },
      h("span", { class: "nav-label" }, t(`nav.${id}`)),
      id === "inbox" ? h("span", { class: "badge", id: "inbox-badge", "aria-live": "polite" }) : null,
      h("kbd", { "aria-hidden": "true" }, shortcut)))));
  updateBadges();
}

function buildLanguageSelect() {
  const sel = select(LANGUAGES, lang(), { id: "lang-select" });
  sel.addEventListener("change", () => setLang(sel.value));
  replace($("#lang-slot"), h("label", { for: "lang-select", class: "sr-only" }, t("frame.language")), sel);
}

function showWho() {
  const s = state.session;
  $("#party").textContent = state.party ? t("frame.node", { party: state.party }) : "";
  $("#who").textContent = s ? (s.operator ? `${s.operator} · ${t(`role.${s.role}`)}` : t("frame.token_session")) : "";
  const liveEl = $("#live");
  liveEl.dataset.state = state.live;
  liveEl.textContent = t(`frame.live.${state.live}`);
}

function updateBadges() {
  const badge = $("#inbox-badge");
  if (!badge) return;
  const open = state.inbox.filter((m) => m.status !== "acknowledged");
  const overdue = open.filter((m) => m.overdue_since || (m.ack_deadline && Date.parse(m.ack_deadline) < Date.now()));
  badge.textContent = open.length ? String(open.length) : "";
  badge.classList.toggle("badge-overdue", overdue.length > 0);
  badge.title = t("frame.badge", { open: open.length, overdue: overdue.length });
}

function tick() {
  const now = new Date();
  $("#clock-dtg").textContent = dtg(now);
  $("#clock-utc").textContent = utcClock(now);
  ui.tickAll($("#main"));
  alarm.tick();
}

// -- live events ------------------------------------------------------------------

/** Keep the inbox (alarm, badge) current whatever screen is open. */
async function refreshInbox() {
  try {
    const page = await get(`/api/v1/messages${query({ box: "inbox", order: "precedence", limit: 200 })}`);
    update({ inbox: page.items });
    alarm.considerAll(page.items);
    updateBadges();
  } catch {
    /* shown by the screens; the next event retries */
  }
}

function scheduleInbox() {
  clearTimeout(inboxTimer);
  inboxTimer = setTimeout(refreshInbox, REFRESH_DEBOUNCE_MS);
}

/** A FLASH that arrives is fetched at once: the alarm must not wait for a debounce. */
async function fastFlash(event) {
  if (event.kind !== "message.received" || !event.id || !String(event.precedence || "").startsWith("FLASH")) return;
  try {
    alarm.consider(await get(`/api/v1/messages/${encodeURIComponent(event.id)}`));
  } catch {
    scheduleInbox();
  }
}

function onEvent(ev) {
  const event = ev.detail;
  fastFlash(event);
  if (/^(message|ack|translation)\.|^resync$/.test(event.kind)) scheduleInbox();
  pendingEvents.push(event);
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(flushRefresh, REFRESH_DEBOUNCE_MS);
}

async function flushRefresh() {
  const events = pendingEvents;
  pendingEvents = [];
  const view = activeView();
  if (!view?.refresh) return;
  const resync = events.find((e) => e.kind === "resync");
  if (resync) return view.refresh(resync);
  const seen = new Set();
  for (const event of events) {
    const key = event.kind.split(".")[0];
    if (seen.has(key)) continue;
    seen.add(key);
    const done = view.refresh(event);
    if (done) {
      await done;
      return null;
    }
  }
  return null;
}

// -- sign-in / sign-out -----------------------------------------------------------

async function start() {
  document.body.classList.remove("signed-out");
  await loadCapabilities(true);
  buildNav();
  showWho();
  live.connect();
  refreshInbox();
  if (!location.hash || location.hash === "#/login") location.hash = "#/inbox";
  await route();
}

async function showLogin(reason) {
  live.disconnect();
  stopRouter();
  alarm.considerAll([]);
  document.body.classList.add("signed-out");
  await loadCapabilities(true);
  const main = $("#main");
  main.dataset.screen = "login";
  await login.render(main, {}, () => start());
  if (reason) main.prepend(h("p", { class: "notice notice-error", role: "alert" }, reason));
  showWho();
}

function wireFrame() {
  $("#help-open").addEventListener("click", () => $("#help").showModal());
  $("#signout").addEventListener("click", async () => {
    await signOut();
    location.hash = "";
    showLogin();
  });
  document.addEventListener("molink:event", onEvent);
  document.addEventListener("molink:changed", () => {
    scheduleInbox();
    onEvent({ detail: { kind: "local.changed" } });
  });
  document.addEventListener("molink:state", showWho);
  document.addEventListener("molink:unauthenticated", async () => {
    await signOut();
    showLogin(t("login.expired"));
  });
  document.addEventListener("molink:lang", () => {
    buildNav();
    buildLanguageSelect();
    showWho();
    alarm.redraw();
    if (document.body.classList.contains("signed-out")) showLogin();
    else route();
  });
  window.addEventListener("hashchange", () => {
    if (!document.body.classList.contains("signed-out")) route();
  });
}

async function boot() {
  setLang(initialLang());
  translateStatic(document);
  buildLanguageSelect();
  wireFrame();
  keys.install();
  setInterval(tick, 1000);
  tick();
  const session = restore();
  if (!session) return showLogin();
  update({ session, party: session.party });
  return start();
}

boot();
