// Shared pieces of the screens: chips, deadlines, notices, tables with keyboard rows.
import { ApiError } from "./api.js";
import { $, h, replace } from "./dom.js";
import { t } from "./i18n.js";
import { duration, secondsUntil } from "./time.js";

export const PRECEDENCES = ["FLASH OVERRIDE", "FLASH", "IMMEDIATE", "PRIORITY", "ROUTINE"];

export function rank(precedence) {
  const i = PRECEDENCES.indexOf(precedence);
  return i < 0 ? PRECEDENCES.length : i;
}

const slug = (text) => String(text || "").toLowerCase().replace(/[^a-z0-9]+/g, "-");

export function precedenceChip(precedence) {
  return h("span", { class: ["chip", `prec-${slug(precedence)}`] }, precedence || "—");
}

/** The status key for a message: an inbound "delivered" message is "received". */
export function statusKey(msg) {
  return msg.direction === "in" && msg.status === "delivered" ? "received" : msg.status;
}

export function statusChip(status, text) {
  return h("span", { class: ["chip", `st-${slug(status)}`], title: text || "" }, t(`status.${status}`));
}

/** A message's status chip, with "overdue" when its deadline passed. */
export function messageStatus(msg) {
  const chip = statusChip(statusKey(msg), msg.status_text);
  if (!msg.overdue_since) return chip;
  return h("span", {}, chip, h("span", { class: "chip st-failed" }, t("status.overdue")));
}

/** A cell that counts down to the acknowledgement deadline (updated each second). */
export function deadlineEl(msg) {
  const el = h("span", { class: "deadline" });
  if (msg.ack_deadline && msg.status !== "acknowledged" && !msg.acknowledged_at) {
    el.dataset.deadline = msg.ack_deadline;
    tickDeadline(el);
  } else {
    el.textContent = "—";
  }
  return el;
}

export function tickDeadline(el) {
  const left = secondsUntil(el.dataset.deadline);
  if (left === null) return;
  el.classList.toggle("overdue", left < 0);
  el.classList.toggle("soon", left >= 0 && left < 120);
  el.textContent = left < 0 ? t("deadline.overdue", { time: duration(-left) }) : duration(left);
}

export function tickAll(root = document) {
  for (const el of root.querySelectorAll("[data-deadline]")) tickDeadline(el);
}

/** A screen heading that takes focus after navigation. */
export function heading(key, ...extra) {
  return h("div", { class: "screen-head" }, h("h1", { tabindex: "-1" }, t(key)), ...extra);
}

/** "Not available on this node" for capabilities the node does not have (yet). */
export function notAvailable(featureKey) {
  return h(
    "div",
    { class: "notice notice-missing", role: "status" },
    h("strong", {}, t("common.not_available")),
    " ",
    t(featureKey),
  );
}

/** A problem shown to the operator (or "not available" for a missing endpoint). */
export function problem(exc, featureKey = "common.this_feature") {
  if (exc instanceof ApiError && exc.missing) return notAvailable(featureKey);
  const detail = exc instanceof ApiError ? exc.problem.detail || exc.message : String(exc.message || exc);
  return h("div", { class: "notice notice-error", role: "alert" }, t("common.error", { detail }));
}

export function emptyRow(colspan, key) {
  return h("tr", {}, h("td", { colspan, class: "empty" }, t(key)));
}

/** Show a short message to everyone (screen readers too). */
export function toast(text, kind = "info") {
  const box = $("#toasts");
  if (!box) return;
  const item = h("div", { class: ["toast", `toast-${kind}`], role: kind === "error" ? "alert" : "status" }, text);
  box.append(item);
  setTimeout(() => item.remove(), 6000);
}

/** Rows of a table that can be walked with j/k (or arrows) and opened with Enter. */
export function keyRows(tbody, onOpen) {
  tbody.addEventListener("keydown", (ev) => {
    const row = ev.target.closest("tr[data-id]");
    if (!row || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.key === "Enter") {
      ev.preventDefault();
      onOpen(row.dataset.id);
    } else if (ev.key === "j" || ev.key === "ArrowDown") {
      ev.preventDefault();
      row.nextElementSibling?.focus();
    } else if (ev.key === "k" || ev.key === "ArrowUp") {
      ev.preventDefault();
      row.previousElementSibling?.focus();
    }
  });
  tbody.addEventListener("click", (ev) => {
    const row = ev.target.closest("tr[data-id]");
    if (row && !ev.target.closest("a, button")) onOpen(row.dataset.id);
  });
}

/** The focused row's id in a keyRows table, else the first row's. */
export function selectedId(tbody) {
  const row = document.activeElement?.closest?.("tr[data-id]");
  if (row && tbody.contains(row)) return row.dataset.id;
  return tbody.querySelector("tr[data-id]")?.dataset.id || null;
}

/** Remember which row had focus, re-render, and put focus back. */
export function keepFocus(tbody, renderRows) {
  const had = document.activeElement?.closest?.("tr[data-id]");
  const id = had && tbody.contains(had) ? had.dataset.id : null;
  renderRows();
  if (id) tbody.querySelector(`tr[data-id="${CSS.escape(id)}"]`)?.focus();
}

export function definitionList(pairs) {
  return h("dl", { class: "facts" }, pairs.filter(Boolean).map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

export function section(titleKey, ...children) {
  const id = `sec-${slug(titleKey)}`;
  return h("section", { class: "panel", id: `panel-${slug(titleKey)}`, "aria-labelledby": id },
    h("h2", { id }, t(titleKey)), ...children);
}

export function setBusy(el, busy) {
  el.setAttribute("aria-busy", busy ? "true" : "false");
}

export { replace };
