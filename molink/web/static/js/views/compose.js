// Compose: free text, or a coded catalogue message with its parameters. A coded
// message needs a channel on which every member agreed to the catalogue version.
import { ApiError, get, post } from "../api.js";
import * as data from "../data.js";
import { $, field, h, replace, select } from "../dom.js";
import { LANGUAGES, lang, t } from "../i18n.js";
import { can, state } from "../store.js";
import * as ui from "../ui.js";

const enc = encodeURIComponent;
let form = null;
let els = {};

function partyBoxes(parties, checked) {
  return h("fieldset", { class: "parties", id: "to" },
    h("legend", {}, t("compose.to")),
    parties.map((p) => h("label", { class: "check" },
      h("input", { type: "checkbox", name: "to", value: p, checked: checked.includes(p) }), " ", p)));
}

function channelOptions(channels) {
  const options = [["", t("compose.direct")]];
  for (const ch of channels) {
    options.push([ch.id, `${ch.name} — ${t(`chan.state.${ch.state}`)}${ch.emergency ? ` · ${t("chan.emergency")}` : ""}`]);
  }
  return options;
}

function modeSwitch(mode) {
  const radio = (value) => h("label", { class: "check" },
    h("input", { type: "radio", name: "mode", value, checked: value === mode, onchange: () => setMode(value) }), " ",
    t(`compose.mode_${value}`));
  return h("fieldset", { class: "mode" }, h("legend", {}, t("compose.kind")), radio("free"), radio("coded"));
}

function setMode(mode) {
  form.dataset.mode = mode;
  $("#free-fields", form).hidden = mode !== "free";
  $("#coded-fields", form).hidden = mode !== "coded";
  els.subject.required = false;
  if (mode === "coded") refreshCatalogueStatus();
}

function codedFields(catalogue) {
  const entries = catalogue?.entries || [];
  els.code = select(entries.map((e) => [e.code, `${e.code} — ${e.precedence}`]), entries[0]?.code, { name: "code" });
  els.code.addEventListener("change", drawParams);
  els.params = h("div", { id: "params", class: "stack" });
  els.preview = h("div", { id: "preview", class: "preview", "aria-live": "polite" });
  els.catStatus = h("div", { id: "catalogue-status", role: "status" });
  return h("div", { id: "coded-fields", class: "stack", hidden: true },
    field("code", t("compose.code"), els.code),
    els.params, els.catStatus,
    h("h3", {}, t("compose.preview")), els.preview);
}

function entry() {
  return (state.catalogue?.entries || []).find((e) => e.code === els.code?.value) || null;
}

function drawParams() {
  const e = entry();
  replace(els.params, (e?.params || []).map((p) => {
    const input = h("input", { type: "text", name: `param-${p}`, required: true, maxlength: 200, "data-param": p, oninput: drawPreview });
    return field(`param-${p}`, t("compose.param", { name: p }), input);
  }));
  drawPreview();
}

function params() {
  const out = {};
  for (const input of form.querySelectorAll("[data-param]")) out[input.dataset.param] = input.value.trim();
  return out;
}

function drawPreview() {
  const e = entry();
  if (!e) return replace(els.preview);
  const p = params();
  return replace(els.preview, Object.entries(e.texts).map(([code, text]) =>
    h("p", { lang: code, class: code === lang() ? "mine" : "" }, h("span", { class: "tag" }, code), " ", data.fillTemplate(text, p))));
}

async function refreshCatalogueStatus() {
  const channel = els.channel.value;
  if (!channel) return replace(els.catStatus, h("p", { class: "notice" }, t("compose.coded_needs_channel")));
  try {
    const st = await get(`/api/v1/channels/${enc(channel)}/catalogue`);
    return replace(els.catStatus, catalogueNotice(channel, st));
  } catch (exc) {
    return replace(els.catStatus, ui.problem(exc));
  }
}

function catalogueNotice(channel, st) {
  if (st.in_force) {
    return h("p", { class: "notice notice-ok" }, t("compose.catalogue_in_force", { id: st.catalogue, version: st.version }));
  }
  const mine = st.missing.includes(state.party);
  return h("div", { class: "notice" },
    t("compose.catalogue_missing", { parties: st.missing.join(", ") }), " ",
    mine && can("catalogue.agree") ? h("button", { type: "button", class: "btn btn-small",
      onclick: () => agree(channel) }, t("compose.agree", { party: state.party })) : null);
}

async function agree(channel) {
  try {
    await post(`/api/v1/channels/${enc(channel)}/catalogue/agree`);
    ui.toast(t("compose.agreed"));
  } catch (exc) {
    ui.toast(exc.message, "error");
  }
  await refreshCatalogueStatus();
}

function onChannel(channels) {
  const ch = channels.find((c) => c.id === els.channel.value);
  if (ch) {
    const others = ch.members.filter((m) => m !== state.party);
    for (const box of form.querySelectorAll("input[name=to]")) box.checked = others.includes(box.value);
  }
  if (form.dataset.mode === "coded") refreshCatalogueStatus();
}

function freeFields(reply) {
  els.subject = h("input", { type: "text", name: "subject", maxlength: 256, value: reply ? `RE: ${reply.subject || reply.code || ""}` : "" });
  els.body = h("textarea", { name: "body", rows: 8, maxlength: 32768 });
  return h("div", { id: "free-fields", class: "stack" },
    field("subject", t("compose.subject"), els.subject),
    field("body", t("compose.body"), els.body, t("compose.body_hint")));
}

function payload() {
  const to = [...form.querySelectorAll("input[name=to]:checked")].map((x) => x.value);
  const body = { to, lang: els.lang.value };
  if (els.channel.value) body.channel = els.channel.value;
  if (els.precedence.value) body.precedence = els.precedence.value;
  if (form.dataset.mode === "coded") {
    body.code = els.code.value;
    body.params = params();
  } else {
    body.subject = els.subject.value.trim();
    body.body = els.body.value;
  }
  return body;
}

async function send(ev) {
  ev.preventDefault();
  const body = payload();
  const out = $("#compose-status", form);
  if (body.to.length === 0) return replace(out, h("p", { class: "error", role: "alert" }, t("compose.need_to")));
  if (form.dataset.mode === "free" && !body.subject && !body.body.trim()) {
    return replace(out, h("p", { class: "error", role: "alert" }, t("compose.need_text")));
  }
  const button = $("#send", form);
  button.disabled = true;
  try {
    const sent = await post("/api/v1/messages", body);
    ui.toast(t("compose.sent", { dtg: sent.created }));
    location.hash = `#/message/${enc(sent.id)}`;
  } catch (exc) {
    replace(out, ui.problem(exc));
    button.disabled = false;
  }
  return null;
}

async function build(root, params) {
  const [channels, parties, catalogue] = await Promise.all([
    data.channels(true).catch(() => []), data.parties(), data.catalogue().catch(() => null)]);
  const reply = params.reply ? await get(`/api/v1/messages/${enc(params.reply)}`).catch(() => null) : null;
  els = {};
  els.channel = select(channelOptions(channels), reply?.channel || params.channel || "", { name: "channel" });
  els.channel.addEventListener("change", () => onChannel(channels));
  els.precedence = select([["", t("compose.prec_default")], ...ui.PRECEDENCES.map((p) => [p, p])], reply ? reply.precedence : "", { name: "precedence" });
  els.lang = select(LANGUAGES, lang(), { name: "lang" });
  form = h("form", { class: "compose stack", id: "compose", "aria-labelledby": "compose-h", onsubmit: send },
    modeSwitch("free"),
    field("channel", t("col.channel"), els.channel),
    partyBoxes(parties, reply ? [reply.from] : []),
    h("div", { class: "row" }, field("precedence", t("col.prec"), els.precedence), field("msg-lang", t("compose.lang"), els.lang)),
    freeFields(reply), codedFields(catalogue),
    h("div", { class: "actions" }, h("button", { class: "btn btn-primary", id: "send", type: "submit", "aria-keyshortcuts": "Control+Enter" }, t("compose.send"))),
    h("div", { id: "compose-status" }));
  form.dataset.mode = "free";
  form.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) form.requestSubmit();
  });
  replace(root, h("h1", { tabindex: "-1", id: "compose-h" }, t("nav.compose")),
    can("message.send") ? form : ui.notAvailable("compose.not_allowed"));
  drawParams();
  if (!reply && els.channel.value) onChannel(channels);
  if (params.mode === "coded") {
    $("input[value=coded]", form).checked = true;
    setMode("coded");
  }
}

export const compose = {
  id: "compose",
  title: "nav.compose",
  async render(root, params) {
    try {
      await build(root, params);
    } catch (exc) {
      if (!(exc instanceof ApiError)) throw exc;
      replace(root, ui.problem(exc));
    }
  },
  refresh(event) {
    if (event.kind === "catalogue.agree.received" && form?.dataset.mode === "coded") return refreshCatalogueStatus();
    return null;
  },
};
