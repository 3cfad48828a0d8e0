// Inbox and outbox: message lists that update live.
// The inbox puts what needs action first: unacknowledged, by precedence, then by deadline.
import { get, post, query } from "../api.js";
import * as alarm from "../alarm.js";
import { deferral, isDeferred } from "../deferrals.js";
import { h, replace } from "../dom.js";
import { t } from "../i18n.js";
import { update } from "../store.js";
import { timeEl } from "../time.js";
import * as ui from "../ui.js";

const LIMIT = 200;

/** Inbox order: unacknowledged first, then precedence, then deadline, then newest. */
export function inboxOrder(a, b) {
  const open = (m) => (m.status === "acknowledged" ? 1 : 0);
  return (
    open(a) - open(b) ||
    ui.rank(a.precedence) - ui.rank(b.precedence) ||
    String(a.ack_deadline || "~").localeCompare(String(b.ack_deadline || "~")) ||
    String(b.created).localeCompare(String(a.created))
  );
}

function matches(msg, needle) {
  if (!needle) return true;
  const hay = [msg.subject, msg.body, msg.from, (msg.to || []).join(" "), msg.channel, msg.code, msg.dtg,
    msg.precedence, msg.status_text].join(" ").toLowerCase();
  return hay.includes(needle.toLowerCase());
}

function recipientsCell(msg) {
  const list = msg.recipients?.length ? msg.recipients : (msg.to || []).map((party) => ({ party, status: msg.status }));
  return h("span", { class: "recipients" }, list.map((r) =>
    h("span", { class: ["chip", "chip-recipient", `st-${r.status}`], title: t(`status.${r.status}`) },
      r.party, " ", t(`status.short.${r.status}`))));
}

function subjectCell(msg) {
  const d = deferral(msg.id);
  return h("td", { class: "subject" },
    h("a", { href: `#/message/${encodeURIComponent(msg.id)}`, tabindex: "-1" }, msg.subject || msg.code || t("read.no_subject")),
    msg.code ? h("span", { class: "tag" }, msg.code) : null,
    d && isDeferred(msg.id) ? h("span", { class: "tag tag-deferred", title: d.reason }, t("inbox.deferred")) : null);
}

function row(msg, box) {
  const who = box === "inbox" ? h("td", {}, msg.from) : h("td", {}, recipientsCell(msg));
  return h("tr", { "data-id": msg.id, tabindex: "0", class: [`row-${msg.status}`, msg.overdue_since ? "row-overdue" : ""],
    "aria-label": `${msg.precedence} ${msg.subject || msg.code || ""}` },
    h("td", {}, ui.precedenceChip(msg.precedence)),
    h("td", {}, timeEl(msg.created)),
    who,
    subjectCell(msg),
    h("td", {}, msg.channel),
    h("td", {}, ui.deadlineEl(msg)),
    h("td", {}, ui.messageStatus(msg)));
}

function table(box, tbody) {
  const cols = ["col.prec", "col.dtg", box === "inbox" ? "col.from" : "col.to", "col.subject", "col.channel",
    "col.deadline", "col.status"];
  return h("table", { class: "grid messages", "aria-label": t(`nav.${box}`) },
    h("thead", {}, h("tr", {}, cols.map((c) => h("th", { scope: "col" }, t(c))))), tbody);
}

function makeView(box) {
  let items = [];
  let tbody = null;
  let search = null;
  let status = null;

  function draw() {
    const needle = search.value.trim();
    const shown = items.filter((m) => matches(m, needle));
    ui.keepFocus(tbody, () =>
      replace(tbody, shown.length ? shown.map((m) => row(m, box)) : ui.emptyRow(7, needle ? "common.no_match" : `${box}.empty`)));
    const open = items.filter((m) => m.status !== "acknowledged").length;
    status.textContent = box === "inbox" ? t("inbox.summary", { n: items.length, open }) : t("outbox.summary", { n: items.length });
  }

  async function load() {
    ui.setBusy(tbody, true);
    try {
      const order = box === "inbox" ? "precedence" : "time";
      const page = await get(`/api/v1/messages${query({ box, order, limit: LIMIT })}`);
      items = page.items;
      if (box === "inbox") {
        items.sort(inboxOrder);
        alarm.considerAll(items);
        update({ inbox: items });
      }
      draw();
    } catch (exc) {
      replace(tbody, h("tr", {}, h("td", { colspan: 7 }, ui.problem(exc))));
    } finally {
      ui.setBusy(tbody, false);
    }
  }

  async function ackSelected() {
    const id = ui.selectedId(tbody);
    const msg = items.find((m) => m.id === id);
    if (!msg || msg.direction !== "in" || msg.status === "acknowledged") return false;
    try {
      await post(`/api/v1/messages/${encodeURIComponent(id)}/ack`);
      ui.toast(t("read.acked"));
      alarm.forget(id);
      await load();
    } catch (exc) {
      ui.toast(exc.message, "error");
    }
    return true;
  }

  return {
    id: box,
    title: `nav.${box}`,
    async render(root) {
      tbody = h("tbody", {});
      search = h("input", { type: "search", id: "search", autocomplete: "off", "aria-keyshortcuts": "/",
        placeholder: t("common.search_hint"), oninput: draw });
      status = h("p", { class: "summary", role: "status" });
      ui.keyRows(tbody, (id) => { location.hash = `#/message/${encodeURIComponent(id)}`; });
      replace(root, ui.heading(`nav.${box}`, h("div", { class: "search" },
        h("label", { for: "search", class: "sr-only" }, t("common.search")), search)), status, table(box, tbody));
      await load();
    },
    refresh(event) {
      if (event.kind.startsWith("message.") || event.kind.startsWith("ack.") || event.kind.startsWith("translation.")
        || event.kind === "resync" || event.kind === "local.changed") return load();
      return null;
    },
    acknowledge: box === "inbox" ? ackSelected : null,
    focusSearch() {
      search?.focus();
      return true;
    },
  };
}

export const inbox = makeView("inbox");
export const outbox = makeView("outbox");
