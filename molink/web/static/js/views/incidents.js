// The incident desk: each party's own account side by side (nobody can alter the
// other's), comments, requests for explanation with reply deadlines, and the joint
// timeline. Every change is a signed object by one party.
import { ApiError, get, has, post, request } from "../api.js";
import * as data from "../data.js";
import { download, field, h, replace, select } from "../dom.js";
import { t } from "../i18n.js";
import { can, state } from "../store.js";
import { fromUtcInput, timeEl } from "../time.js";
import * as ui from "../ui.js";

const PATH = "/api/v1/incidents";
const enc = encodeURIComponent;
let root = null;
let params = {};
let forms = null; // forms survive live refreshes of the same incident

function statusChip(status) {
  return h("span", { class: ["chip", `inc-${status}`] }, t(`inc.status.${status}`));
}

// -- list ---------------------------------------------------------------------------

function listRow(it) {
  return h("tr", { "data-id": it.id, tabindex: "0" },
    h("td", {}, timeEl(it.filed_at)),
    h("td", {}, ui.precedenceChip(it.precedence)),
    h("td", {}, h("a", { href: `#/incidents/${enc(it.id)}`, tabindex: "-1" }, it.title)),
    h("td", {}, statusChip(it.status)),
    h("td", {}, it.channel),
    h("td", {}, Object.keys(it.accounts || {}).join(", ")),
    h("td", {}, String((it.rfes || []).filter((r) => !r.reply).length)));
}

async function fileForm() {
  if (!can("incident.file")) return null;
  const channels = await data.channels().catch(() => []);
  const f = {
    channel: select(channels.map((c) => [c.id, c.name]), channels[0]?.id),
    title: h("input", { type: "text", required: true, maxlength: 300 }),
    precedence: select(ui.PRECEDENCES.map((p) => [p, p]), "IMMEDIATE"),
    ...accountInputs(),
  };
  const out = h("div", { role: "status" });
  return ui.section("inc.file", h("form", { class: "stack narrow", onsubmit: (ev) => fileIncident(ev, f, out) },
    h("div", { class: "row" }, field("inc-channel", t("col.channel"), f.channel), field("inc-prec", t("col.prec"), f.precedence)),
    field("inc-title", t("desk.title"), f.title), accountFields(f, "inc"),
    h("button", { class: "btn btn-primary", type: "submit" }, t("inc.file_submit")), out));
}

async function fileIncident(ev, f, out) {
  ev.preventDefault();
  try {
    const made = await post(PATH, { channel: f.channel.value, title: f.title.value.trim(), precedence: f.precedence.value,
      account: accountValue(f) });
    location.hash = `#/incidents/${enc(made.id)}`;
  } catch (exc) {
    replace(out, ui.problem(exc));
  }
}

async function renderList() {
  const items = (await get(PATH)).items;
  const body = h("tbody", {}, items.length ? items.map(listRow) : ui.emptyRow(7, "desk.empty"));
  ui.keyRows(body, (id) => { location.hash = `#/incidents/${enc(id)}`; });
  const cols = ["col.dtg", "col.prec", "desk.title", "col.status", "col.channel", "inc.accounts_by", "inc.open_rfes"];
  if (!forms || forms.id !== "(list)") forms = { id: "(list)", file: await fileForm() };
  replace(root, ui.heading("nav.incidents"), h("p", { class: "hint" }, t("inc.hint")),
    h("table", { class: "grid" }, h("thead", {}, h("tr", {}, cols.map((c) => h("th", { scope: "col" }, t(c))))), body),
    forms.file || "");
}

// -- account inputs (filing and updating) ---------------------------------------------

function accountInputs() {
  return {
    start: h("input", { type: "datetime-local", step: 1, required: true }),
    end: h("input", { type: "datetime-local", step: 1 }),
    lat: h("input", { type: "number", step: "any", min: -90, max: 90, required: true }),
    lon: h("input", { type: "number", step: "any", min: -180, max: 180, required: true }),
    assets: h("input", { type: "text", maxlength: 2000 }),
    narrative: h("textarea", { rows: 5, required: true, maxlength: 20000 }),
    files: h("input", { type: "file", multiple: true }),
  };
}

function accountFields(f, prefix) {
  return h("div", { class: "stack" },
    h("div", { class: "row" }, field(`${prefix}-start`, t("inc.time_start"), f.start), field(`${prefix}-end`, t("inc.time_end"), f.end)),
    h("div", { class: "row" }, field(`${prefix}-lat`, t("map.lat"), f.lat), field(`${prefix}-lon`, t("map.lon"), f.lon)),
    field(`${prefix}-assets`, t("inc.assets"), f.assets, t("inc.assets_hint")),
    field(`${prefix}-narrative`, t("inc.narrative"), f.narrative),
    has(`${PATH}/attachments`, "post") ? field(`${prefix}-files`, t("inc.attachments"), f.files, t("inc.attachments_hint")) : null,
    h("p", { class: "hint" }, t("evidence.utc")));
}

async function uploadAll(files, incidentId) {
  const refs = [];
  for (const file of files) {
    const headers = { "X-Filename": file.name, "Content-Type": file.type || "application/octet-stream" };
    if (incidentId) headers["X-Incident"] = incidentId;
    refs.push(await request("POST", `${PATH}/attachments`, { body: await file.arrayBuffer(), headers }));
  }
  return refs;
}

function accountValue(f, attachments = []) {
  const start = fromUtcInput(f.start.value);
  const end = fromUtcInput(f.end.value);
  return {
    time_start: start,
    ...(end ? { time_end: end } : {}),
    location: { type: "Point", coordinates: [Number(f.lon.value), Number(f.lat.value)] },
    assets: f.assets.value.split(",").map((a) => a.trim()).filter(Boolean),
    narrative: f.narrative.value.trim(),
    attachments,
  };
}

// -- one incident ---------------------------------------------------------------------

function where(location) {
  if (location?.type === "Point") {
    const [lon, lat] = location.coordinates;
    return `${Number(lat).toFixed(4)}, ${Number(lon).toFixed(4)}`;
  }
  return location?.type || "—";
}

function attachmentList(list) {
  if (!list?.length) return null;
  return h("ul", { class: "attachments" }, list.map((a) => h("li", {},
    h("button", { type: "button", class: "link", onclick: () => fetchAttachment(a) }, a.name || a.sha256.slice(0, 12)),
    ` (${a.media_type || ""}, ${a.size ?? "?"} B)`)));
}

async function fetchAttachment(a) {
  try {
    const { blob, name } = await request("GET", `${PATH}/attachments/${enc(a.sha256)}`, { as: "blob" });
    download(blob, a.name || name);
  } catch (exc) {
    ui.toast(exc.message, "error");
  }
}

function accountCard(party, a, versions) {
  return h("article", { class: ["panel", "account", party === state.party ? "mine" : ""], "aria-label": t("inc.account_of", { party }) },
    h("h3", {}, t("inc.account_of", { party }), " ", h("span", { class: "tag" }, t("inc.version", { n: a.version, all: versions }))),
    ui.definitionList([
      [t("inc.window"), h("span", {}, timeEl(a.time_start), " – ", timeEl(a.time_end))],
      [t("inc.location"), where(a.location)],
      [t("inc.assets"), (a.assets || []).join(", ") || "—"],
      [t("inc.signed"), a.message_id ? h("a", { href: `#/message/${enc(a.message_id)}` }, timeEl(a.created)) : "—"],
    ]),
    h("div", { class: "body" }, a.narrative || ""), attachmentList(a.attachments));
}

function accountsSection(it) {
  const entries = Object.entries(it.accounts || {}).sort(([a], [b]) => (a === state.party ? -1 : b === state.party ? 1 : a.localeCompare(b)));
  const missing = (it.parties || []).filter((p) => !(p in (it.accounts || {})));
  return ui.section("desk.accounts", h("div", { class: "side-by-side" },
    entries.map(([p, a]) => accountCard(p, a, it.account_versions?.[p] || a.version)),
    missing.map((p) => h("article", { class: "panel account missing" }, h("h3", {}, t("inc.account_of", { party: p })),
      h("p", { class: "empty" }, t("inc.no_account"))))));
}

function rfeSection(it) {
  const rows = (it.rfes || []).map((r) => h("li", { class: "rfe" },
    h("p", {}, h("strong", {}, r.party), " ", timeEl(r.created), ": ", r.question),
    r.reply ? h("p", { class: "reply" }, "↳ ", h("strong", {}, r.reply.party), " ", timeEl(r.reply.created), ": ", r.reply.text)
      : h("p", {}, t("inc.reply_due"), " ", h("span", { class: "deadline", "data-deadline": r.deadline }), " ",
        r.party !== state.party && can("incident.file") ? replyForm(it, r) : null)));
  return ui.section("inc.rfes", rows.length ? h("ul", { class: "plain" }, rows) : h("p", { class: "empty" }, t("inc.no_rfes")));
}

function replyForm(it, rfe) {
  const text = h("input", { type: "text", required: true, maxlength: 4000, "aria-label": t("inc.reply") });
  return h("form", { class: "row inline", onsubmit: (ev) => change(ev, it, "incident.rfe_reply", { rfe: rfe.id, text: text.value.trim() }) },
    text, h("button", { class: "btn btn-small", type: "submit" }, t("inc.reply")));
}

function comments(it) {
  const list = (it.comments || []).map((c) => h("li", {}, h("strong", {}, c.party), " ", timeEl(c.created), ": ", c.text));
  return ui.section("inc.comments", list.length ? h("ul", { class: "plain" }, list) : h("p", { class: "empty" }, t("inc.no_comments")));
}

async function timelineSection(id) {
  try {
    const items = (await get(`${PATH}/${enc(id)}/timeline`)).items;
    return ui.section("desk.timeline", h("ol", { class: "timeline" }, items.map((e) =>
      h("li", { class: `tl-${String(e.kind).replace(":", "-")}` }, h("time", { title: e.time }, e.dtg || ""), " ",
        h("span", { class: "tag" }, t(`inc.kind.${String(e.kind).split(":")[0]}`)), " ", h("strong", {}, e.party), " ",
        e.kind === "message" ? h("a", { href: `#/message/${enc(e.ref)}` }, e.text) : e.text))));
  } catch (exc) {
    return ui.section("desk.timeline", ui.problem(exc));
  }
}

async function change(ev, it, type, fields) {
  ev.preventDefault();
  try {
    await post(`${PATH}/${enc(it.id)}/events`, { type, fields });
    ui.toast(t("inc.sent"));
    forms = null;
    await load();
  } catch (exc) {
    ui.toast(exc instanceof ApiError ? exc.problem.detail || exc.message : exc.message, "error");
  }
}

function actionForms(it) {
  if (!can("incident.file") || it.status === "closed") return null;
  const comment = h("textarea", { rows: 2, maxlength: 4000 });
  const question = h("textarea", { rows: 2, maxlength: 4000 });
  const deadline = h("input", { type: "datetime-local" });
  const acc = accountInputs();
  const submitAccount = async (ev) => {
    ev.preventDefault();
    const attachments = await uploadAll(acc.files.files, it.id).catch((exc) => { ui.toast(exc.message, "error"); return null; });
    if (attachments) await change(ev, it, "incident.account", accountValue(acc, attachments));
  };
  return h("div", { class: "side-by-side" },
    ui.section("inc.our_account", h("form", { class: "stack", onsubmit: submitAccount }, accountFields(acc, "acc"),
      h("button", { class: "btn btn-primary", type: "submit" }, t("inc.account_submit")))),
    h("div", { class: "stack" },
      ui.section("inc.comment", h("form", { class: "stack", onsubmit: (ev) => change(ev, it, "incident.comment", { text: comment.value.trim() }) },
        field("inc-comment", t("inc.comment"), comment), h("button", { class: "btn", type: "submit" }, t("inc.comment_submit")))),
      ui.section("inc.rfe", h("form", { class: "stack", onsubmit: (ev) => change(ev, it, "incident.rfe", rfeFields(question, deadline)) },
        field("inc-question", t("inc.question"), question), field("inc-deadline", t("inc.deadline"), deadline, t("inc.deadline_hint")),
        h("button", { class: "btn", type: "submit" }, t("inc.rfe_submit")))),
      ui.section("inc.status_h", h("div", { class: "actions" },
        it.status !== "under_discussion" ? h("button", { class: "btn", type: "button",
          onclick: (ev) => change(ev, it, "incident.status", { status: "under_discussion" }) }, t("inc.discuss")) : null,
        h("button", { class: "btn", type: "button", onclick: (ev) => change(ev, it, "incident.status", { status: "closed" }) },
          t("inc.close")),
        (it.close_votes || []).length ? h("p", { class: "hint" }, t("inc.close_votes", { parties: it.close_votes.join(", ") })) : null))));
}

function rfeFields(question, deadline) {
  const when = fromUtcInput(deadline.value);
  return { question: question.value.trim(), ...(when ? { deadline: when } : {}) };
}

async function renderOne(id) {
  const it = await get(`${PATH}/${enc(id)}`);
  if (!forms || forms.id !== id) forms = { id, actions: actionForms(it) };
  replace(root, h("p", {}, h("a", { href: "#/incidents" }, "← ", t("nav.incidents"))),
    h("h1", { tabindex: "-1" }, it.title),
    h("div", { class: "row" }, ui.precedenceChip(it.precedence), statusChip(it.status)),
    ui.definitionList([[t("col.channel"), it.channel], [t("inc.filed"), h("span", {}, it.filed_by, " ", timeEl(it.filed_at))],
      [t("desk.parties"), (it.parties || []).join(", ")]]),
    (it.refused || []).length ? h("div", { class: "notice notice-error" }, t("inc.refused", { n: it.refused.length })) : null,
    accountsSection(it), rfeSection(it), comments(it), await timelineSection(id), forms.actions || "");
  ui.tickAll(root);
}

async function load() {
  if (!has(PATH)) return replace(root, ui.heading("nav.incidents"), ui.notAvailable("desk.incidents_feature"));
  try {
    return await (params.id ? renderOne(params.id) : renderList());
  } catch (exc) {
    return replace(root, ui.heading("nav.incidents"), ui.problem(exc, "desk.incidents_feature"));
  }
}

export const incidents = {
  id: "incidents",
  title: "nav.incidents",
  async render(el, p) {
    root = el;
    params = p;
    forms = null;
    await load();
  },
  refresh(event) {
    if (event.kind.startsWith("incident") || event.kind === "resync" || (params.id && event.kind === "message.received")) return load();
    return null;
  },
};
