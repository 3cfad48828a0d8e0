// Evidence export: a zip of signed messages, receipts, acknowledgements, cosigned
// checkpoints and proofs that an outsider verifies offline (`molink evidence verify`).
import { has, request } from "../api.js";
import { download, field, h, replace } from "../dom.js";
import { t } from "../i18n.js";
import { fromUtcInput } from "../time.js";
import * as ui from "../ui.js";

const PATH = "/api/v1/evidence/export";

function form(params) {
  const ids = h("textarea", { rows: 4, spellcheck: "false", value: (params.ids || "").split(",").join("\n") });
  const since = h("input", { type: "datetime-local", step: 1 });
  const until = h("input", { type: "datetime-local", step: 1 });
  const out = h("div", { role: "status", id: "evidence-status" });
  return h("form", { class: "stack narrow", onsubmit: (ev) => exportBundle(ev, ids, since, until, out) },
    field("ev-ids", t("evidence.ids"), ids, t("evidence.ids_hint")),
    h("div", { class: "row" }, field("ev-since", t("evidence.since"), since), field("ev-until", t("evidence.until"), until)),
    h("p", { class: "hint" }, t("evidence.utc")),
    h("button", { class: "btn btn-primary", type: "submit", id: "evidence-export" }, t("evidence.export")), out);
}

async function exportBundle(ev, idsEl, sinceEl, untilEl, out) {
  ev.preventDefault();
  const ids = idsEl.value.split(/[\s,]+/).map((x) => x.trim()).filter(Boolean);
  const body = {};
  if (ids.length) body.ids = ids;
  const since = fromUtcInput(sinceEl.value);
  const until = fromUtcInput(untilEl.value);
  if (since) body.since = since;
  if (until) body.until = until;
  replace(out, h("p", {}, t("evidence.working")));
  try {
    const { blob, name } = await request("POST", PATH, { json: body, as: "blob" });
    download(blob, name);
    replace(out, h("p", { class: "notice notice-ok" }, t("evidence.done", { name, kb: Math.ceil(blob.size / 1024) })));
  } catch (exc) {
    replace(out, ui.problem(exc, "evidence.feature"));
  }
}

export const evidence = {
  id: "evidence",
  title: "nav.evidence",
  render(root, params) {
    replace(root, ui.heading("nav.evidence"), h("p", { class: "hint" }, t("evidence.hint")),
      has(PATH, "post") ? form(params) : ui.notAvailable("evidence.feature"));
  },
};
