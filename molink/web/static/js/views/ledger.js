// The confidence-building ledger: an agreement (e.g. a prisoner exchange) with its
// terms, each side's pseudonymous list, handover confirmations, the reconciliation,
// and the completion record signed by the parties and witnessed by the mediator.
import { get, has, post } from "../api.js";
import * as data from "../data.js";
import { download, field, h, replace, select } from "../dom.js";
import { t } from "../i18n.js";
import { can, state } from "../store.js";
import * as ui from "../ui.js";

const PATH = "/api/v1/ledger";
const enc = encodeURIComponent;
let root = null;
let params = {};
let forms = null;

function yes(flag) {
  return h("span", { class: ["chip", flag ? "st-acknowledged" : "st-queued"] }, t(flag ? "common.yes" : "common.no"));
}

// -- list -----------------------------------------------------------------------------

function listRow(a) {
  return h("tr", { "data-id": a.id, tabindex: "0" },
    h("td", {}, h("a", { href: `#/ledger/${enc(a.id)}`, tabindex: "-1" }, a.title)),
    h("td", {}, a.kind), h("td", {}, a.parties.join(", ")), h("td", {}, a.mediators.join(", ") || "—"),
    h("td", {}, yes(a.in_force)), h("td", {}, yes(a.completion?.complete)));
}

/** "RU servicemen 157" per line -> {RU: {servicemen: 157}}. */
export function parseTerms(text) {
  const terms = {};
  for (const line of text.split("\n").map((l) => l.trim()).filter(Boolean)) {
    const [party, category, count] = line.split(/\s+/);
    if (!party || !category || !/^\d+$/.test(count || "")) throw new Error(t("ledger.bad_terms", { line }));
    terms[party.toUpperCase()] = { ...(terms[party.toUpperCase()] || {}), [category]: Number(count) };
  }
  return terms;
}

async function proposeForm() {
  if (!can("ledger.sign") && !can("ledger.witness")) return null;
  const channels = await data.channels().catch(() => []);
  const f = {
    channel: select(channels.map((c) => [c.id, c.name]), channels.find((c) => c.mediator)?.id || channels[0]?.id),
    title: h("input", { type: "text", required: true, maxlength: 300 }),
    kind: h("input", { type: "text", value: "exchange", maxlength: 40 }),
    parties: h("input", { type: "text", required: true, placeholder: "RU, UA" }),
    mediators: h("input", { type: "text", placeholder: "AE, US" }),
    terms: h("textarea", { rows: 4, required: true, placeholder: "RU servicemen 157\nRU civilians 3\nUA servicemen 150\nUA civilians 7" }),
  };
  const out = h("div", { role: "status" });
  const ids = (el) => el.value.split(/[\s,]+/).map((p) => p.trim().toUpperCase()).filter(Boolean);
  const submit = async (ev) => {
    ev.preventDefault();
    try {
      const terms = { title: f.title.value.trim(), kind: f.kind.value.trim() || "exchange", parties: ids(f.parties),
        mediators: ids(f.mediators), terms: parseTerms(f.terms.value) };
      const made = await post(PATH, { channel: f.channel.value, terms });
      location.hash = `#/ledger/${enc(made.id)}`;
    } catch (exc) {
      replace(out, ui.problem(exc));
    }
  };
  return ui.section("ledger.propose", h("form", { class: "stack narrow", onsubmit: submit },
    field("lg-channel", t("col.channel"), f.channel), field("lg-title", t("desk.title"), f.title),
    h("div", { class: "row" }, field("lg-kind", t("ledger.kind"), f.kind), field("lg-parties", t("desk.parties"), f.parties),
      field("lg-mediators", t("chan.mediator"), f.mediators)),
    field("lg-terms", t("ledger.terms"), f.terms, t("ledger.terms_hint")),
    h("button", { class: "btn btn-primary", type: "submit" }, t("ledger.propose_submit")), out));
}

async function renderList() {
  const items = (await get(PATH)).items;
  const body = h("tbody", {}, items.length ? items.map(listRow) : ui.emptyRow(6, "desk.empty"));
  ui.keyRows(body, (id) => { location.hash = `#/ledger/${enc(id)}`; });
  const cols = ["desk.title", "ledger.kind", "desk.parties", "chan.mediator", "chan.in_force", "ledger.complete"];
  if (!forms || forms.id !== "(list)") forms = { id: "(list)", propose: await proposeForm() };
  replace(root, ui.heading("nav.ledger"), h("p", { class: "hint" }, t("ledger.hint")),
    h("table", { class: "grid" }, h("thead", {}, h("tr", {}, cols.map((c) => h("th", { scope: "col" }, t(c))))), body),
    forms.propose || "");
}

// -- one agreement --------------------------------------------------------------------

function categories(a) {
  const found = new Set();
  for (const counts of Object.values(a.terms || {})) Object.keys(counts).forEach((c) => found.add(c));
  return [...found].sort();
}

function reconciliation(a) {
  const cats = categories(a);
  const rec = a.reconciliation || {};
  const rows = Object.keys(a.terms || {}).sort().flatMap((receiver) => cats.map((cat) => {
    const agreed = rec.agreed?.[receiver]?.[cat] ?? a.terms[receiver]?.[cat];
    const listed = rec.listed?.[receiver]?.[cat];
    const off = (rec.discrepancies || []).filter((d) => d.receiver === receiver && d.category === cat);
    return h("tr", { class: off.length ? "row-overdue" : "" },
      h("th", { scope: "row" }, receiver), h("td", {}, cat), h("td", {}, String(agreed ?? "—")), h("td", {}, String(listed ?? "—")),
      h("td", {}, off.length ? off.map((d) => h("div", { class: "err" }, t("ledger.discrepancy", d))) : "✓"));
  }));
  return ui.section("ledger.reconciliation", h("p", {}, t("ledger.reconciled"), " ", yes(rec.complete)),
    h("table", { class: "grid" }, h("thead", {}, h("tr", {}, ["ledger.receiver", "ledger.category", "ledger.agreed_n",
      "ledger.listed_n", "ledger.check"].map((c) => h("th", { scope: "col" }, t(c))))), h("tbody", {}, rows)));
}

function progress(a) {
  const listed = Object.entries(a.lists || {}).map(([p, l]) => `${p}: ${l.records}`).join(", ") || "—";
  const handed = Object.entries(a.handovers || {}).map(([p, hv]) =>
    `${p}: ${Object.entries(hv.handed_over || {}).map(([c, n]) => `${c} ${n}`).join(", ")}`).join("; ") || "—";
  const sigs = Object.entries(a.completion?.signatures || {}).map(([p, s]) => `${p} (${t(`ledger.role.${s.role || "party"}`)})`).join(", ") || "—";
  return ui.definitionList([
    [t("col.channel"), a.channel], [t("desk.parties"), a.parties.join(", ")], [t("chan.mediator"), a.mediators.join(", ") || "—"],
    [t("chan.agreed"), a.agreed_by.join(", ") || "—"], [t("chan.in_force"), yes(a.in_force)],
    [t("ledger.lists"), listed], [t("ledger.handovers"), handed], [t("ledger.signatures"), sigs],
    [t("ledger.complete"), yes(a.completion?.complete)],
    a.completion?.record_sha256 && [t("ledger.record"), h("code", { class: "hash" }, a.completion.record_sha256)],
  ]);
}

async function act(path, body) {
  try {
    await post(`${PATH}/${enc(params.id)}/${path}`, body);
    ui.toast(t("inc.sent"));
    forms = null;
    await load();
  } catch (exc) {
    ui.toast(exc.problem?.detail || exc.message, "error");
  }
}

/** "pid,category,to" per line -> records. */
export function parseRecords(text) {
  return text.split("\n").map((l) => l.trim()).filter(Boolean).map((line) => {
    const [pid, category, to] = line.split(",").map((x) => x.trim());
    if (!pid || !category || !to) throw new Error(t("ledger.bad_record", { line }));
    return { pid, category, to: to.toUpperCase() };
  });
}

function countsFields(a, prefix) {
  return Object.fromEntries(categories(a).map((c) => [c, h("input", { type: "number", min: 0, step: 1, value: 0, id: `${prefix}-${c}` })]));
}

function actionsFor(a) {
  const mine = a.parties.includes(state.party) && can("ledger.sign");
  const mediator = a.mediators.includes(state.party) && can("ledger.witness");
  const records = h("textarea", { rows: 4, placeholder: "P-0001,servicemen,RU" });
  const handed = countsFields(a, "ho");
  const received = countsFields(a, "rc");
  const counts = (inputs) => Object.fromEntries(Object.entries(inputs).map(([c, el]) => [c, Number(el.value)]));
  const submitList = (ev) => {
    ev.preventDefault();
    try {
      act("lists", { records: parseRecords(records.value) });
    } catch (exc) {
      ui.toast(exc.message, "error");
    }
  };
  return h("div", { class: "stack" },
    h("div", { class: "actions" },
      (mine || mediator) && !a.agreed_by.includes(state.party) ? h("button", { class: "btn btn-primary", type: "button", onclick: () => act("agree") }, t("ledger.agree")) : null,
      (mine || mediator) ? h("button", { class: "btn", type: "button", onclick: () => act("sign") }, t(mediator && !mine ? "ledger.witness" : "ledger.sign")) : null,
      h("button", { class: "btn", type: "button", onclick: exportAgreement }, t("ledger.export"))),
    mine ? h("div", { class: "side-by-side" },
      ui.section("ledger.our_list", h("form", { class: "stack", onsubmit: submitList },
        field("lg-records", t("ledger.records"), records, t("ledger.records_hint")), h("button", { class: "btn", type: "submit" }, t("ledger.list_submit")))),
      ui.section("ledger.our_handover", h("form", { class: "stack", onsubmit: (ev) => { ev.preventDefault(); act("handover", { handed_over: counts(handed), received: counts(received) }); } },
        h("fieldset", {}, h("legend", {}, t("ledger.handed_over")), Object.entries(handed).map(([c, el]) => field(el.id, c, el))),
        h("fieldset", {}, h("legend", {}, t("ledger.received")), Object.entries(received).map(([c, el]) => field(el.id, c, el))),
        h("button", { class: "btn", type: "submit" }, t("ledger.handover_submit"))))) : null);
}

async function exportAgreement() {
  try {
    const body = await get(`${PATH}/${enc(params.id)}/export`);
    download(new Blob([JSON.stringify(body, null, 2)], { type: "application/json" }), `ledger-${params.id}.json`);
  } catch (exc) {
    ui.toast(exc.message, "error");
  }
}

async function renderOne(id) {
  const a = await get(`${PATH}/${enc(id)}`);
  if (!forms || forms.id !== id) forms = { id, actions: actionsFor(a) };
  replace(root, h("p", {}, h("a", { href: "#/ledger" }, "← ", t("nav.ledger"))), h("h1", { tabindex: "-1" }, a.title),
    progress(a), reconciliation(a), forms.actions);
}

async function load() {
  if (!has(PATH)) return replace(root, ui.heading("nav.ledger"), ui.notAvailable("desk.ledger_feature"));
  try {
    return await (params.id ? renderOne(params.id) : renderList());
  } catch (exc) {
    return replace(root, ui.heading("nav.ledger"), ui.problem(exc, "desk.ledger_feature"));
  }
}

export const ledger = {
  id: "ledger",
  title: "nav.ledger",
  async render(el, p) {
    root = el;
    params = p;
    forms = null;
    await load();
  },
  refresh(event) {
    if (event.kind.startsWith("ledger") || event.kind === "resync") return load();
    return null;
  },
};

