// Channels: their state, members, signed lifecycle history, and the actions the
// channel rule allows (agree, suspend, restore, close). The emergency line is never
// suspended: the console does not offer it.
import { get, post } from "../api.js";
import * as data from "../data.js";
import { field, h, replace, select } from "../dom.js";
import { t } from "../i18n.js";
import { can, state } from "../store.js";
import { fromUtcInput, timeEl } from "../time.js";
import * as ui from "../ui.js";

const enc = encodeURIComponent;

function stateChip(ch) {
  return h("span", { class: ["chip", `chan-${ch.state}`] }, t(`chan.state.${ch.state}`));
}

function listRow(ch) {
  return h("tr", { "data-id": ch.id, tabindex: "0" },
    h("td", {}, h("a", { href: `#/channel/${enc(ch.id)}`, tabindex: "-1" }, ch.name)),
    h("td", {}, stateChip(ch), ch.emergency ? h("span", { class: "tag tag-emergency" }, t("chan.emergency")) : null),
    h("td", {}, ch.members.join(", ")),
    h("td", {}, ch.mediator || "—"),
    h("td", {}, ch.pending_action ? t("chan.pending", { action: t(`chan.action.${ch.pending_action}`), parties: ch.pending_votes.join(", ") }) : "—"),
    h("td", {}, ch.history?.length ? timeEl(ch.history[ch.history.length - 1].effective) : "—"));
}

let listBody = null;

async function loadList() {
  try {
    const channels = await data.channels(true);
    ui.keepFocus(listBody, () => replace(listBody, channels.length ? channels.map(listRow) : ui.emptyRow(6, "chan.none")));
  } catch (exc) {
    replace(listBody, h("tr", {}, h("td", { colspan: 6 }, ui.problem(exc))));
  }
}

export const channels = {
  id: "channels",
  title: "nav.channels",
  async render(root) {
    listBody = h("tbody", {});
    ui.keyRows(listBody, (id) => { location.hash = `#/channel/${enc(id)}`; });
    const cols = ["chan.name", "col.status", "chan.members", "chan.mediator", "chan.pending_h", "chan.last_change"];
    replace(root, ui.heading("nav.channels"), h("table", { class: "grid" },
      h("thead", {}, h("tr", {}, cols.map((c) => h("th", { scope: "col" }, t(c))))), listBody));
    await loadList();
  },
  refresh(event) {
    if (event.kind.startsWith("channel.") || event.kind === "resync") return loadList();
    return null;
  },
};

// -- one channel ------------------------------------------------------------------

let detailRoot = null;
let channelId = null;
let formCache = null; // the action form survives live refreshes (typed reason stays)

function history(ch) {
  const rows = (ch.history || []).slice().reverse().map((e) => h("tr", {},
    h("td", {}, timeEl(e.effective)), h("td", {}, e.party), h("td", {}, t(`chan.action.${e.action}`)),
    h("td", {}, t(`chan.state.${e.state_after}`)), h("td", { class: "reason" }, e.reason),
    h("td", {}, e.message_id ? h("a", { href: `#/message/${enc(e.message_id)}` }, t("chan.signed")) : "—")));
  return ui.section("chan.history", h("table", { class: "grid" },
    h("thead", {}, h("tr", {}, ["col.dtg", "col.party", "chan.action_h", "chan.state_after", "chan.reason", "chan.record"]
      .map((c) => h("th", { scope: "col" }, t(c))))),
    h("tbody", {}, rows.length ? rows : ui.emptyRow(6, "chan.no_history"))));
}

function allowedActions(ch) {
  const all = ["agree", "suspend", "restore", "close"];
  return all.filter((a) => !(ch.emergency && (a === "suspend" || a === "close")));
}

function actionForm(ch) {
  if (!can("channel.change")) return null;
  const action = select(allowedActions(ch).map((a) => [a, t(`chan.action.${a}`)]), ch.pending_action || "agree");
  const reason = h("textarea", { rows: 3, required: true, maxlength: 2000 });
  const effective = h("input", { type: "datetime-local", step: 60 });
  const out = h("div", { role: "status" });
  const form = h("form", { class: "stack", onsubmit: (ev) => change(ev, ch, action, reason, effective, out) },
    ch.emergency ? h("p", { class: "notice" }, t("chan.emergency_note")) : null,
    field("chan-action", t("chan.action_h"), action),
    field("chan-reason", t("chan.reason"), reason),
    field("chan-effective", t("chan.effective"), effective, t("chan.effective_hint")),
    h("button", { class: "btn", type: "submit" }, t("chan.submit")), out);
  return ui.section("chan.change", form);
}

async function change(ev, ch, action, reason, effective, out) {
  ev.preventDefault();
  const body = { action: action.value, reason: reason.value.trim() };
  const when = fromUtcInput(effective.value);
  if (when) body.effective = when;
  try {
    await post(`/api/v1/channels/${enc(ch.id)}/events`, body);
    ui.toast(t("chan.changed"));
    formCache = null;
    await loadDetail();
  } catch (exc) {
    replace(out, ui.problem(exc));
  }
}

async function catalogueSection(ch) {
  try {
    const st = await get(`/api/v1/channels/${enc(ch.id)}/catalogue`);
    const mine = st.missing.includes(state.party) && can("catalogue.agree");
    return ui.section("chan.catalogue", ui.definitionList([
      [t("chan.catalogue_id"), `${st.catalogue} v${st.version}`],
      [t("chan.agreed"), st.agreed.join(", ") || "—"],
      [t("chan.missing"), st.missing.join(", ") || "—"],
      [t("chan.in_force"), st.in_force ? t("common.yes") : t("common.no")],
    ]), mine ? h("button", { class: "btn", type: "button", onclick: () => agreeCatalogue(ch.id) },
      t("compose.agree", { party: state.party })) : null,
    st.in_force && can("message.send") ? h("a", { class: "btn", href: `#/compose?channel=${enc(ch.id)}&mode=coded` }, t("chan.send_coded")) : null);
  } catch (exc) {
    return ui.section("chan.catalogue", ui.problem(exc));
  }
}

async function agreeCatalogue(id) {
  try {
    await post(`/api/v1/channels/${enc(id)}/catalogue/agree`);
    ui.toast(t("compose.agreed"));
    await loadDetail();
  } catch (exc) {
    ui.toast(exc.message, "error");
  }
}

function cachedForm(ch) {
  if (!formCache || formCache.id !== ch.id) formCache = { id: ch.id, el: actionForm(ch) };
  return formCache.el;
}

async function loadDetail() {
  try {
    const ch = await get(`/api/v1/channels/${enc(channelId)}`);
    const deadlines = ch.ack_deadlines ? Object.entries(ch.ack_deadlines).map(([p, s]) => `${p} ${Math.round(s / 60)}′`).join(", ") : t("chan.default_deadlines");
    replace(detailRoot, h("p", {}, h("a", { href: "#/channels" }, "← ", t("nav.channels"))),
      h("h1", { tabindex: "-1" }, ch.name), h("div", { class: "row" }, stateChip(ch),
        ch.emergency ? h("span", { class: "tag tag-emergency" }, t("chan.emergency")) : null),
      ui.definitionList([
        [t("chan.id"), h("code", {}, ch.id)], [t("chan.members"), ch.members.join(", ")],
        [t("chan.mediator"), ch.mediator || "—"], [t("chan.deadlines"), deadlines],
        ch.pending_action && [t("chan.pending_h"), t("chan.pending", { action: t(`chan.action.${ch.pending_action}`), parties: ch.pending_votes.join(", ") })],
      ]),
      history(ch), await catalogueSection(ch), cachedForm(ch));
  } catch (exc) {
    replace(detailRoot, ui.problem(exc));
  }
}

export const channel = {
  id: "channel",
  title: "nav.channels",
  async render(root, params) {
    detailRoot = root;
    channelId = params.id;
    formCache = null;
    await loadDetail();
  },
  refresh(event) {
    if (event.kind.startsWith("channel.") || event.kind.startsWith("catalogue.") || event.kind === "resync") return loadDetail();
    return null;
  },
};
