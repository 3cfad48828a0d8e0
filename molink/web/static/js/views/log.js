// The transparency log: size, the signed checkpoint with the peers' cosignatures,
// which witnesses cosigned how far, and the peers' logs this node witnesses.
import { get, request } from "../api.js";
import { h, replace } from "../dom.js";
import { t } from "../i18n.js";
import { timeEl } from "../time.js";
import * as ui from "../ui.js";

let body = null;

function witnessRows(view) {
  const cosigned = new Set(view.latest_cosigned_by || []);
  return Object.entries(view.witnesses || {}).map(([origin, size]) => h("tr", {},
    h("td", {}, h("code", {}, origin)),
    h("td", {}, String(size)),
    h("td", {}, cosigned.has(origin)
      ? h("span", { class: "chip st-acknowledged" }, t("log.cosigned"))
      : h("span", { class: "chip st-queued" }, t("log.behind", { n: view.size - size })))));
}

function witnessingRows(view) {
  return (view.witnessing || []).map((w) => h("tr", {},
    h("td", {}, h("code", {}, w.origin)), h("td", {}, String(w.size)), h("td", {}, timeEl(w.updated))));
}

function grid(cols, rows, emptyKey) {
  return h("table", { class: "grid" }, h("thead", {}, h("tr", {}, cols.map((c) => h("th", { scope: "col" }, t(c))))),
    h("tbody", {}, rows.length ? rows : ui.emptyRow(cols.length, emptyKey)));
}

async function load() {
  try {
    const [view, note] = await Promise.all([get("/api/v1/log"), request("GET", "/log/checkpoint", { as: "text" }).catch(() => "")]);
    const all = Object.keys(view.witnesses || {}).length;
    const cosigned = (view.latest_cosigned_by || []).length;
    replace(body,
      ui.definitionList([
        [t("log.origin"), h("code", {}, view.origin)],
        [t("log.size"), String(view.size)],
        [t("log.checkpoint_size"), String(view.checkpoint_size)],
        [t("log.witness_state"), h("span", { class: cosigned === all && all > 0 ? "ok" : "warn" }, t("log.cosigned_by", { n: cosigned, all }))],
        [t("log.vkey"), h("code", { class: "hash" }, view.vkey)],
        [t("log.witness_vkey"), h("code", { class: "hash" }, view.witness_vkey || "")],
      ]),
      ui.section("log.witnesses", grid(["log.witness", "log.size", "col.status"], witnessRows(view), "log.no_witnesses")),
      ui.section("log.witnessing", grid(["log.origin", "log.size", "log.updated"], witnessingRows(view), "log.none_witnessed")),
      ui.section("log.checkpoint", h("pre", { class: "note", "aria-label": t("log.checkpoint") }, note)));
  } catch (exc) {
    replace(body, ui.problem(exc, "log.feature"));
  }
}

export const log = {
  id: "log",
  title: "nav.log",
  async render(root) {
    body = h("div", {});
    replace(root, ui.heading("nav.log"), h("p", { class: "hint" }, t("log.hint")), body);
    await load();
  },
  refresh(event) {
    if (event.kind === "log.checkpoint" || event.kind === "resync") return load();
    return null;
  },
};
