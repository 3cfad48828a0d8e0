// Sign-in. An operator signs in with password and one-time code from an enrolled and
// approved terminal (this browser's Ed25519 key), or pastes an API token (as automation
// clients do). docs/roles.md "Login contract" and "Terminal enrolment".
import { ApiError } from "../api.js";
import { $, field, h, replace } from "../dom.js";
import { t } from "../i18n.js";
import { enrolTerminal, operatorLoginAvailable, signInOperator, signInWithToken, terminalState } from "../session.js";
import * as siren from "../siren.js";
import { supported, terminal } from "../terminal.js";
import * as ui from "../ui.js";

const LOCATION = /^\s*-?\d{1,2}(\.\d+)?\s*,\s*-?\d{1,3}(\.\d+)?\s*$/;
let pollTimer = null;

function failure(exc) {
  if (exc instanceof ApiError && exc.status === 429) return t("login.rate_limited");
  if (exc instanceof ApiError && exc.status === 401) return exc.problem.detail || t("login.refused");
  if (exc instanceof ApiError && exc.status === 0) return t("login.unreachable");
  return exc.message;
}

function locationInput() {
  return h("input", { type: "text", inputmode: "decimal", autocomplete: "off", placeholder: "50.4501,30.5234", pattern: LOCATION.source });
}

function tokenForm(onDone) {
  const token = h("input", { type: "password", id: "token", required: true, autocomplete: "off", spellcheck: "false" });
  const location = locationInput();
  const out = h("p", { class: "error", role: "alert", id: "login-error" });
  return h("form", { class: "stack", id: "token-form", "aria-labelledby": "token-h", onsubmit: async (ev) => {
    ev.preventDefault();
    siren.unlock();
    out.textContent = "";
    try {
      await signInWithToken(token.value, location.value.trim());
      onDone();
    } catch (exc) {
      out.textContent = failure(exc);
      token.focus();
    }
  } },
  h("h2", { id: "token-h" }, t("login.token_title")),
  h("p", { class: "hint" }, t("login.token_hint")),
  field("token", t("login.token"), token),
  field("token-location", t("login.location"), location, t("login.location_hint")),
  h("button", { class: "btn btn-primary", type: "submit", id: "token-submit" }, t("login.submit")), out);
}

async function terminalFacts() {
  const term = await terminal();
  return ui.definitionList([[t("login.terminal"), h("code", { id: "terminal-id" }, term.id)],
    [t("login.fingerprint"), h("code", { id: "terminal-fp", class: "fingerprint" }, term.fingerprint)]]);
}

function enrolSection() {
  const unit = h("input", { type: "text", required: true, maxlength: 64, pattern: "[A-Za-z0-9][A-Za-z0-9._\\-]{0,63}" });
  const label = h("input", { type: "text", required: true, maxlength: 200 });
  const out = h("div", { role: "status", id: "enrol-status" });
  const check = h("button", { class: "btn btn-small", type: "button", onclick: () => checkTerminal(out) }, t("login.check"));
  return h("details", { class: "enrol" }, h("summary", {}, t("login.enrol_title")),
    h("p", { class: "hint" }, t("login.enrol_hint")),
    h("form", { class: "stack", onsubmit: (ev) => enrol(ev, unit, label, out) },
      field("enrol-unit", t("login.unit"), unit, t("login.unit_hint")), field("enrol-label", t("login.label"), label),
      h("div", { class: "row" }, h("button", { class: "btn", type: "submit" }, t("login.enrol")), check)), out);
}

async function enrol(ev, unit, label, out) {
  ev.preventDefault();
  try {
    const view = await enrolTerminal({ unit: unit.value.trim(), label: label.value.trim() });
    replace(out, h("p", { class: "notice" }, t("login.enrolled", { status: view.status, fingerprint: view.fingerprint })));
    schedulePoll(out);
  } catch (exc) {
    replace(out, h("p", { class: "error", role: "alert" }, failure(exc)));
  }
}

async function checkTerminal(out) {
  try {
    const st = await terminalState();
    replace(out, h("p", { class: st.ready ? "notice notice-ok" : "notice" }, st.ready ? t("login.approved") : st.detail));
    return st.ready;
  } catch (exc) {
    replace(out, h("p", { class: "error", role: "alert" }, failure(exc)));
    return false;
  }
}

function schedulePoll(out) {
  clearTimeout(pollTimer);
  pollTimer = setTimeout(async () => {
    if (!document.body.contains(out)) return;
    if (!(await checkTerminal(out))) schedulePoll(out);
  }, 15_000);
}

async function operatorForm(onDone) {
  const title = h("h2", { id: "op-h" }, t("login.operator_title"));
  if (!operatorLoginAvailable()) return h("section", { class: "stack", "aria-labelledby": "op-h" }, title, ui.notAvailable("login.operator_feature"));
  if (!supported()) return h("section", { class: "stack", "aria-labelledby": "op-h" }, title, h("p", { class: "notice" }, t("login.no_webcrypto")));
  let facts;
  try {
    facts = await terminalFacts();
  } catch (exc) {
    return h("section", { class: "stack", "aria-labelledby": "op-h" }, title, h("p", { class: "notice" }, t("login.no_webcrypto"), " ", exc.message));
  }
  const operator = h("input", { type: "text", required: true, autocomplete: "username", spellcheck: "false" });
  const password = h("input", { type: "password", required: true, autocomplete: "current-password" });
  const totp = h("input", { type: "text", required: true, inputmode: "numeric", pattern: "[0-9]{6,8}", autocomplete: "one-time-code", maxlength: 8 });
  const location = locationInput();
  const out = h("p", { class: "error", role: "alert" });
  const form = h("form", { class: "stack", id: "operator-form", "aria-labelledby": "op-h", onsubmit: async (ev) => {
    ev.preventDefault();
    siren.unlock();
    out.textContent = "";
    try {
      await signInOperator({ operator: operator.value.trim(), password: password.value, totp: totp.value.trim(), location: location.value.trim() });
      onDone();
    } catch (exc) {
      out.textContent = failure(exc);
      totp.value = "";
    }
  } },
  title, field("operator", t("login.operator"), operator), field("password", t("login.password"), password),
  field("totp", t("login.totp"), totp), field("op-location", t("login.location"), location, t("login.location_hint")),
  facts, h("button", { class: "btn btn-primary", type: "submit" }, t("login.submit")), out);
  return h("section", { class: "stack" }, form, enrolSection());
}

export const login = {
  id: "login",
  title: "login.title",
  async render(root, _params, onDone) {
    const panel = h("div", { class: "login-panels" }, await operatorForm(onDone), tokenForm(onDone));
    replace(root, h("div", { class: "login" }, h("h1", { tabindex: "-1" }, t("login.title")),
      h("p", { class: "hint" }, t("login.intro")), panel));
    ($("#operator", root) || $("#token", root))?.focus();
  },
};
