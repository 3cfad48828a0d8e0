// The FLASH alarm: an unmistakable banner and a sound for every received FLASH or
// FLASH OVERRIDE message that is not acknowledged. It cannot be dismissed: the
// officer acknowledges the message or defers the alarm with a reason. While it is
// up, the rest of the console is inert, and Escape does nothing.
import { post } from "./api.js";
import { defer, deferral, isDeferred } from "./deferrals.js";
import { $, h, replace } from "./dom.js";
import { lang, t } from "./i18n.js";
import { can } from "./store.js";
import * as siren from "./siren.js";
import { duration, secondsUntil, timeEl } from "./time.js";

const ALARMING = ["FLASH OVERRIDE", "FLASH"];
const pending = new Map(); // id -> message view
let shownId = null;
let deferring = false;

export function isAlarming(msg) {
  return (
    msg.direction === "in" &&
    ALARMING.includes(msg.precedence) &&
    msg.status !== "acknowledged" &&
    !msg.acknowledged_at
  );
}

/** Take note of a message view: raise, keep or drop its alarm. */
export function consider(msg) {
  if (isAlarming(msg)) pending.set(msg.id, msg);
  else pending.delete(msg.id);
  render();
}

/** Take note of a whole inbox listing. */
export function considerAll(items) {
  for (const msg of items) {
    if (isAlarming(msg)) pending.set(msg.id, msg);
    else pending.delete(msg.id);
  }
  render();
}

export function forget(id) {
  pending.delete(id);
  render();
}

/** The message the alarm shows now, or null. */
export function current() {
  if (!can("message.ack")) return { msg: null, count: 0 };
  const now = Date.now();
  const active = [...pending.values()].filter((m) => !isDeferred(m.id, now));
  active.sort(
    (a, b) =>
      ALARMING.indexOf(a.precedence) - ALARMING.indexOf(b.precedence) ||
      String(a.created).localeCompare(String(b.created)),
  );
  return { msg: active[0] || null, count: active.length };
}

function root() {
  return $("#alarm");
}

function setInert(on) {
  for (const el of [$("#app"), $(".skip")]) {
    if (el) el.inert = on;
  }
}

/** Show or hide the alarm to match the pending messages. */
export function render() {
  const el = root();
  if (!el) return;
  const { msg, count } = current();
  if (!msg) {
    hide(el);
    return;
  }
  const changed = shownId !== msg.id || el.hidden;
  el.hidden = false;
  el.dataset.id = msg.id;
  document.body.classList.add("alarm-up");
  setInert(true);
  siren.start();
  el.dataset.sound = siren.audible() ? "on" : "blocked";
  if (changed) {
    shownId = msg.id;
    deferring = false;
    fill(el, msg, count);
    $("#alarm-ack", el)?.focus();
  } else {
    updateCountdown(el, msg);
    const counter = $("#alarm-count", el);
    if (counter) counter.textContent = count > 1 ? t("alarm.count", { n: count }) : "";
  }
}

function hide(el) {
  if (!el.hidden) {
    el.hidden = true;
    setInert(false);
    document.body.classList.remove("alarm-up");
  }
  el.dataset.sound = "off";
  shownId = null;
  siren.stop();
}

function bodyText(msg) {
  const rendered = msg.rendered?.[lang()] || msg.rendered?.en;
  const translation = (msg.translations || []).find((tr) => tr.lang === lang());
  return { original: msg.body || rendered || "", rendered, translation };
}

function fill(el, msg, count) {
  const { original, rendered, translation } = bodyText(msg);
  const card = h(
    "div",
    { class: "alarm-card" },
    h(
      "div",
      { class: "alarm-banner" },
      h("span", { class: "alarm-prec", id: "alarm-title" }, msg.precedence),
      h("span", { class: "alarm-from" }, t("alarm.from", { party: msg.from })),
      h("span", { id: "alarm-count" }, count > 1 ? t("alarm.count", { n: count }) : ""),
    ),
    h("p", { class: "alarm-meta" }, timeEl(msg.created), " · ", msg.channel, " · ",
      h("span", { id: "alarm-deadline" })),
    h("h2", { class: "alarm-subject" }, msg.subject || msg.code || ""),
    h("div", { id: "alarm-body", class: "alarm-body", lang: msg.lang }, original),
    rendered && msg.body && rendered !== msg.body ? h("p", { class: "alarm-rendered" }, rendered) : null,
    translation ? h("p", { class: "alarm-translation", lang: translation.lang },
      h("span", { class: "tag" }, t("read.unofficial", { lang: translation.lang })), " ", translation.text) : null,
    previousDeferral(msg),
    actions(msg),
    h("p", { id: "alarm-sound-hint", class: "hint", hidden: siren.audible() }, t("alarm.sound")),
  );
  replace(el, card);
  updateCountdown(el, msg);
}

function previousDeferral(msg) {
  const d = deferral(msg.id);
  if (!d) return null;
  return h("p", { class: "alarm-deferred" }, t("alarm.was_deferred", { reason: d.reason }), " ", timeEl(d.at));
}

function actions(msg) {
  const ack = h("button", { id: "alarm-ack", class: "btn btn-ack", type: "button", "aria-keyshortcuts": "a",
    onclick: () => acknowledge(msg.id) }, t("alarm.ack"));
  const deferBtn = h("button", { id: "alarm-defer", class: "btn", type: "button", "aria-keyshortcuts": "d",
    onclick: () => showDeferForm(msg) }, t("alarm.defer"));
  return h("div", { class: "alarm-actions", id: "alarm-actions" }, ack, deferBtn,
    h("div", { id: "alarm-defer-slot" }));
}

function showDeferForm(msg) {
  deferring = true;
  const reason = h("textarea", { id: "alarm-reason", rows: 2, required: true, maxlength: 500, "aria-describedby": "alarm-defer-error" });
  const minutes = h("select", { id: "alarm-minutes" },
    [2, 5, 10].map((m) => h("option", { value: m, selected: m === 5 }, t("alarm.minutes", { n: m }))));
  const status = h("p", { class: "error", role: "alert", id: "alarm-defer-error" });
  const form = h("form", { class: "alarm-defer-form", novalidate: true, onsubmit: (ev) => submitDefer(ev, msg, reason, minutes, status) },
    h("label", { for: "alarm-reason" }, t("alarm.reason")), reason,
    h("label", { for: "alarm-minutes" }, t("alarm.for")), minutes,
    h("div", { class: "row" },
      h("button", { class: "btn", type: "submit", id: "alarm-defer-confirm" }, t("alarm.defer_confirm")),
      h("button", { class: "btn btn-quiet", type: "button", onclick: () => cancelDefer() }, t("common.cancel"))),
    status);
  replace($("#alarm-defer-slot"), form);
  reason.focus();
}

function cancelDefer() {
  deferring = false;
  replace($("#alarm-defer-slot"));
  $("#alarm-defer")?.focus();
}

async function submitDefer(ev, msg, reason, minutes, status) {
  ev.preventDefault();
  const text = reason.value.trim();
  if (text.length < 3) {
    status.textContent = t("alarm.reason_needed");
    reason.focus();
    return;
  }
  try {
    const entry = await defer(msg.id, text, Number(minutes.value));
    announce(t(entry.recorded === "node" ? "alarm.deferred_node" : "alarm.deferred_local",
      { minutes: entry.minutes }));
    deferring = false;
    render();
    document.dispatchEvent(new CustomEvent("molink:changed", { detail: { id: msg.id } }));
  } catch (exc) {
    status.textContent = exc.message;
  }
}

/** Acknowledge the message on the node; the alarm drops it when that succeeds. */
export async function acknowledge(id) {
  const button = $("#alarm-ack");
  if (button) button.disabled = true;
  try {
    const view = await post(`/api/v1/messages/${encodeURIComponent(id)}/ack`);
    pending.delete(id);
    announce(t("alarm.acked", { subject: view.subject || view.code || id }));
    render();
    document.dispatchEvent(new CustomEvent("molink:changed", { detail: { id } }));
  } catch (exc) {
    if (button) button.disabled = false;
    announce(t("alarm.ack_failed", { error: exc.message }));
  }
}

function updateCountdown(el, msg) {
  const slot = $("#alarm-deadline", el);
  if (!slot) return;
  const left = secondsUntil(msg.ack_deadline);
  if (left === null) {
    slot.textContent = "";
  } else if (left < 0) {
    slot.textContent = t("deadline.overdue", { time: duration(-left) });
    slot.className = "overdue";
  } else {
    slot.textContent = t("deadline.left", { time: duration(left) });
  }
  const hint = $("#alarm-sound-hint", el);
  if (hint) hint.hidden = siren.audible();
  el.dataset.sound = siren.audible() ? "on" : "blocked";
}

function announce(text) {
  const live = $("#announcer");
  if (live) live.textContent = text;
}

/** Keys while the alarm is up: a = acknowledge, d = defer, Tab stays inside. */
export function handleKey(ev) {
  const el = root();
  if (!el || el.hidden) return false;
  siren.unlock();
  const typing = ev.target.closest?.("textarea, input, select");
  if (ev.key === "Escape") {
    ev.preventDefault();
    if (deferring) cancelDefer();
    else announce(t("alarm.cannot_dismiss"));
    return true;
  }
  if (!typing && !ev.ctrlKey && !ev.metaKey && !ev.altKey) {
    if (ev.key === "a") {
      ev.preventDefault();
      acknowledge(el.dataset.id);
      return true;
    }
    if (ev.key === "d") {
      ev.preventDefault();
      showDeferForm(pending.get(el.dataset.id));
      return true;
    }
  }
  if (ev.key === "Tab") trapFocus(ev, el);
  return true;
}

function trapFocus(ev, el) {
  const focusable = [...el.querySelectorAll("button, textarea, select, input, [tabindex]")].filter(
    (x) => !x.disabled && !x.hidden,
  );
  if (focusable.length === 0) return;
  const first = focusable[0];
  const last = focusable[focusable.length - 1];
  if (ev.shiftKey && document.activeElement === first) {
    ev.preventDefault();
    last.focus();
  } else if (!ev.shiftKey && document.activeElement === last) {
    ev.preventDefault();
    first.focus();
  } else if (!el.contains(document.activeElement)) {
    ev.preventDefault();
    first.focus();
  }
}

/** Once a second: countdown, deferrals that ran out, the sound hint. */
export function tick() {
  render();
}

/** Re-draw the alarm's text (after a language change). */
export function redraw() {
  shownId = null;
  render();
}
