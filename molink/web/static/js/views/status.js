// Link status (up/degraded/down, round trip, queues) and alerts, live; the offline
// courier for when every network path is cut.
import { get, request } from "../api.js";
import { download, field, h, replace, select } from "../dom.js";
import { t } from "../i18n.js";
import { can, state } from "../store.js";
import { timeEl } from "../time.js";
import * as ui from "../ui.js";

let linksBody = null;
let alertsBody = null;
let head = null;

function linkRow(link) {
  const queue = Object.entries(link.queue || {}).map(([p, n]) => `${p} ${n}`).join(", ");
  return h("tr", {},
    h("th", { scope: "row" }, link.party),
    h("td", {}, h("span", { class: ["chip", `link-${link.status}`] }, t(`link.${link.status}`))),
    h("td", {}, link.rtt_ms !== null && link.rtt_ms !== undefined ? `${Math.round(link.rtt_ms)} ms` : "—"),
    h("td", {}, timeEl(link.last_contact)),
    h("td", {}, timeEl(link.down_since)),
    h("td", {}, String(link.failures ?? 0)),
    h("td", {}, queue || "0"),
    h("td", { class: "err" }, link.last_error || ""),
    h("td", {}, h("code", {}, link.route || "")));
}

function alertRow(a) {
  return h("tr", { "data-kind": a.kind },
    h("td", {}, timeEl(a.created)),
    h("td", {}, h("span", { class: ["chip", `alert-${a.kind}`] }, t(`alert.${a.kind}`))),
    h("td", {}, a.severity ? ui.precedenceChip(a.severity) : "—"),
    h("td", {}, a.title || ""),
    h("td", {}, (a.parties || []).join(", ")),
    h("td", {}, (a.refs || []).map((ref) => h("a", { href: `#/message/${encodeURIComponent(ref)}`, class: "ref" }, ref.slice(0, 8)))));
}

async function loadLinks() {
  try {
    const st = await get("/api/v1/status");
    replace(head, t("status.node", { party: st.party, size: st.log_size }));
    replace(linksBody, st.links.length ? st.links.map(linkRow) : ui.emptyRow(9, "status.no_links"));
  } catch (exc) {
    replace(linksBody, h("tr", {}, h("td", { colspan: 9 }, ui.problem(exc))));
  }
}

async function loadAlerts() {
  try {
    const page = await get("/api/v1/alerts?limit=200");
    const items = page.items.slice().sort((a, b) => String(b.created).localeCompare(String(a.created)));
    replace(alertsBody, items.length ? items.map(alertRow) : ui.emptyRow(6, "status.no_alerts"));
  } catch (exc) {
    replace(alertsBody, h("tr", {}, h("td", { colspan: 6 }, ui.problem(exc))));
  }
}

function grid(cols, body, label) {
  return h("table", { class: "grid", "aria-label": label },
    h("thead", {}, h("tr", {}, cols.map((c) => h("th", { scope: "col" }, t(c))))), body);
}

function courier() {
  if (!can("courier.export")) return null;
  const peer = select(state.parties.map((p) => [p, p]), state.parties[0]);
  const file = h("input", { type: "file", accept: ".json,application/json" });
  const out = h("div", { role: "status" });
  return ui.section("courier.title", h("p", { class: "hint" }, t("courier.hint")),
    h("form", { class: "row", onsubmit: (ev) => exportCourier(ev, peer, out) },
      field("courier-peer", t("courier.peer"), peer), h("button", { class: "btn", type: "submit" }, t("courier.export"))),
    h("form", { class: "row", onsubmit: (ev) => importCourier(ev, file, out) },
      field("courier-file", t("courier.file"), file), h("button", { class: "btn", type: "submit" }, t("courier.import"))),
    out);
}

async function exportCourier(ev, peer, out) {
  ev.preventDefault();
  try {
    const { blob, name } = await request("POST", "/api/v1/courier/export", { json: { peer: peer.value }, as: "blob" });
    download(blob, name);
  } catch (exc) {
    replace(out, ui.problem(exc));
  }
}

async function importCourier(ev, file, out) {
  ev.preventDefault();
  if (!file.files[0]) return;
  try {
    const result = await request("POST", "/api/v1/courier/import", { body: await file.files[0].arrayBuffer(),
      headers: { "Content-Type": "application/json" } });
    replace(out, h("pre", { class: "result" }, JSON.stringify(result, null, 2)));
  } catch (exc) {
    replace(out, ui.problem(exc));
  }
}

export const status = {
  id: "status",
  title: "nav.status",
  every: 10000,
  async render(root) {
    linksBody = h("tbody", {});
    alertsBody = h("tbody", {});
    head = h("p", { class: "summary" });
    replace(root, ui.heading("nav.status"), head,
      ui.section("status.links", grid(["col.party", "col.status", "status.rtt", "status.last_contact", "status.down_since",
        "status.failures", "status.queue", "read.last_error", "status.route"], linksBody, t("status.links"))),
      ui.section("status.alerts", grid(["col.dtg", "status.kind", "status.severity", "status.title", "status.parties", "status.refs"],
        alertsBody, t("status.alerts"))),
      courier());
    await Promise.all([loadLinks(), loadAlerts()]);
  },
  refresh(event) {
    if (event.kind === "alert") return loadAlerts();
    if (event.kind.startsWith("link.") || event.kind.startsWith("message.") || event.kind === "poll") return loadLinks();
    if (event.kind === "resync") return Promise.all([loadLinks(), loadAlerts()]);
    return null;
  },
};

