// Reading one message: the original (authoritative) beside its translations and the
// catalogue's texts; acknowledging; adding a translation; per-recipient receipts.
import { ApiError, get, has, post, request } from "../api.js";
import * as alarm from "../alarm.js";
import { deferral } from "../deferrals.js";
import { download, field, h, replace, select } from "../dom.js";
import { LANGUAGES, lang, t } from "../i18n.js";
import { can } from "../store.js";
import { timeEl, utc } from "../time.js";
import * as ui from "../ui.js";

let msg = null;
let root = null;
let messageId = null;

const enc = encodeURIComponent;

function header(m) {
  return h("header", { class: "message-head" },
    h("div", { class: "row" }, ui.precedenceChip(m.precedence), ui.messageStatus(m),
      m.code ? h("span", { class: "tag" }, t("read.coded", { code: m.code })) : null),
    h("h1", { tabindex: "-1", id: "message-subject" }, m.subject || m.code || t("read.no_subject")),
    ui.definitionList([
      [t("col.from"), m.from],
      [t("col.to"), (m.to || []).join(", ")],
      [t("col.channel"), h("a", { href: `#/channel/${enc(m.channel)}` }, m.channel)],
      [t("read.created"), h("span", {}, timeEl(m.created), " ", h("small", {}, utc(m.created)))],
      [t("col.deadline"), ui.deadlineEl(m)],
      [t("col.status"), t(`status.text.${ui.statusKey(m)}`)],
      m.acknowledged_at && [t("read.acked_at"), h("span", {}, timeEl(m.acknowledged_at), m.acknowledged_by ? ` · ${m.acknowledged_by}` : "")],
      m.overdue_since && [t("read.overdue_since"), timeEl(m.overdue_since)],
      [t("read.sha"), h("code", { class: "hash" }, m.jws_sha256)],
    ]));
}

function original(m) {
  return h("article", { class: "panel original", "aria-labelledby": "orig-h" },
    h("h2", { id: "orig-h" }, t("read.original"), " ", h("span", { class: "tag" }, m.lang), " ",
      h("span", { class: "tag tag-auth" }, t("read.authoritative"))),
    h("div", { class: "body", lang: m.lang }, m.body || (m.rendered && m.rendered[m.lang]) || ""));
}

function codedTexts(m) {
  if (!m.rendered) return null;
  return h("section", { class: "panel", "aria-labelledby": "coded-h" },
    h("h2", { id: "coded-h" }, t("read.catalogue_texts")),
    h("p", { class: "hint" }, t("read.catalogue_hint")),
    Object.entries(m.rendered).map(([code, text]) =>
      h("div", { class: ["rendition", code === lang() ? "mine" : ""], lang: code },
        h("span", { class: "tag" }, code), " ", text)),
    m.params ? ui.definitionList(Object.entries(m.params).filter(([k]) => !k.startsWith("catalogue"))) : null);
}

function translations(m) {
  const list = m.translations || [];
  return h("section", { class: "panel translations", "aria-labelledby": "tr-h" },
    h("h2", { id: "tr-h" }, t("read.translations")),
    list.length === 0 ? h("p", { class: "empty" }, t("read.no_translations")) : null,
    list.map((tr) => h("div", { class: ["translation", tr.lang === lang() ? "mine" : ""], lang: tr.lang },
      h("div", { class: "row" }, h("span", { class: "tag" }, tr.lang), " ",
        h("span", { class: "tag tag-unofficial" }, t("read.unofficial_short")),
        " ", tr.translator || tr.party || "", " ", timeEl(tr.created)),
      h("div", { class: "body" }, tr.text))),
    can("translation.add") ? translationForm(m) : null);
}

function translationForm(m) {
  const langSel = select(LANGUAGES.filter(([c]) => c !== m.lang), lang() === m.lang ? "en" : lang());
  const text = h("textarea", { rows: 4, required: true, maxlength: 32768 });
  const out = h("p", { role: "status", class: "form-status" });
  const form = h("form", { class: "stack", onsubmit: (ev) => addTranslation(ev, m, langSel, text, out) },
    h("h3", {}, t("read.add_translation")),
    field("tr-lang", t("read.tr_lang"), langSel),
    field("tr-text", t("read.tr_text"), text),
    h("button", { class: "btn", type: "submit" }, t("read.tr_submit")), out);
  return form;
}

async function addTranslation(ev, m, langSel, text, out) {
  ev.preventDefault();
  if (!text.value.trim()) return;
  try {
    await post(`/api/v1/messages/${enc(m.id)}/translations`, { lang: langSel.value, text: text.value.trim() });
    ui.toast(t("read.tr_added"));
    await load();
  } catch (exc) {
    replace(out, ui.problem(exc));
  }
}

function recipients(m) {
  if (m.direction !== "out" || !m.recipients) return null;
  const rows = m.recipients.map((r) => h("tr", {},
    h("th", { scope: "row" }, r.party),
    h("td", {}, ui.statusChip(r.status)),
    h("td", {}, timeEl(r.delivered_at)),
    h("td", {}, timeEl(r.acknowledged_at), r.acknowledged_by ? ` · ${r.acknowledged_by}` : ""),
    h("td", {}, String(r.attempts ?? "")),
    h("td", { class: "err" }, r.last_error || ""),
    h("td", {}, r.has_receipt ? h("button", { class: "btn btn-small", type: "button",
      onclick: () => fetchFile(`/api/v1/messages/${enc(m.id)}/receipt?party=${enc(r.party)}`, `receipt-${m.id}-${r.party}.jws`) },
    t("read.receipt")) : "—")));
  return h("section", { class: "panel", "aria-labelledby": "rcpt-h" }, h("h2", { id: "rcpt-h" }, t("read.recipients")),
    h("table", { class: "grid" }, h("thead", {}, h("tr", {}, ["col.party", "col.status", "read.delivered", "read.acked_at",
      "read.attempts", "read.last_error", "read.receipt"].map((c) => h("th", { scope: "col" }, t(c))))), h("tbody", {}, rows)));
}

async function fetchFile(path, name) {
  try {
    const text = await request("GET", path, { as: "text" });
    download(new Blob([text], { type: "application/jose" }), name);
  } catch (exc) {
    ui.toast(exc.message, "error");
  }
}

function deferralNote(m) {
  const d = deferral(m.id);
  if (!d) return null;
  return h("p", { class: "notice" }, t("read.deferred", { reason: d.reason, by: d.by || t("read.this_console") }), " ",
    timeEl(d.at), " → ", timeEl(d.until), " ", h("small", {}, t(`read.deferral_${d.recorded}`)));
}

function actions(m) {
  const canAck = m.direction === "in" && m.status !== "acknowledged" && can("message.ack");
  return h("div", { class: "actions" },
    canAck ? h("button", { class: "btn btn-ack", type: "button", id: "ack", "aria-keyshortcuts": "a", onclick: acknowledge },
      t("read.ack")) : null,
    m.direction === "in" && can("message.send") ? h("a", { class: "btn", href: `#/compose?reply=${enc(m.id)}` }, t("read.reply")) : null,
    h("button", { class: "btn", type: "button", onclick: () => fetchFile(`/api/v1/messages/${enc(m.id)}/jws`, `${m.id}.jws`) },
      t("read.jws")),
    has("/api/v1/evidence/export", "post") && can("evidence.export")
      ? h("a", { class: "btn", href: `#/evidence?ids=${enc(m.id)}` }, t("read.evidence")) : null);
}

async function acknowledge() {
  if (!msg || msg.direction !== "in" || msg.status === "acknowledged") return false;
  try {
    await post(`/api/v1/messages/${enc(msg.id)}/ack`);
    alarm.forget(msg.id);
    ui.toast(t("read.acked"));
    await load();
  } catch (exc) {
    ui.toast(exc.message, "error");
  }
  return true;
}

function draw() {
  const m = msg;
  replace(root, h("p", {}, h("a", { href: m.direction === "out" ? "#/outbox" : "#/inbox" }, "← ", t(m.direction === "out" ? "nav.outbox" : "nav.inbox"))),
    header(m), deferralNote(m), actions(m),
    h("div", { class: "side-by-side" }, original(m), h("div", { class: "stack" }, codedTexts(m), translations(m))),
    recipients(m));
}

async function load() {
  try {
    msg = await get(`/api/v1/messages/${enc(messageId)}`);
    alarm.consider(msg);
    draw();
  } catch (exc) {
    if (exc instanceof ApiError && exc.status === 404) replace(root, ui.heading("read.not_found"));
    else replace(root, ui.problem(exc));
  }
}

export const message = {
  id: "message",
  title: "read.title",
  async render(el, params) {
    root = el;
    messageId = params.id;
    msg = null;
    await load();
  },
  refresh(event) {
    if (event.kind === "log.checkpoint" || event.kind.startsWith("link.")) return null;
    return load();
  },
  acknowledge,
};
