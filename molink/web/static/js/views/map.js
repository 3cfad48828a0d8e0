// The map: notified activities (4-D volumes), protected sites with their exclusion
// zones, conflicts and intrusions, and live tracks, over an offline basemap built from
// the Natural Earth boundaries the node ships (/ui/basemap.geojson). No tile server.
import * as L from "../../vendor/leaflet/leaflet-src.esm.js";
import { get, has, post } from "../api.js";
import * as data from "../data.js";
import { $, field, h, replace, select } from "../dom.js";
import { t } from "../i18n.js";
import * as mapdata from "../mapdata.js";
import { can, state } from "../store.js";
import { duration, fromUtcInput, timeEl } from "../time.js";
import * as ui from "../ui.js";

const LAYERS = ["notifications", "sites", "conflicts", "tracks"];
// Kinds filed here are centred on a point with a radius; the node's templates
// (GET /api/v1/notifications/templates) supply each kind's other particulars.
const POINT_KINDS = ["airspace_reservation", "naval_hazardous_operation", "laser_use", "humanitarian_static_site",
  "ballistic_missile_launch"];
let templates = {};
let map = null;
let groups = {};
let basemap = null;
let listEl = null;
let legendEl = null;
let noticeEl = null;

const STYLE = {
  notifications: { color: "#4fb3d9", weight: 2, fillOpacity: 0.15, className: "map-notification" },
  sites: { color: "#e0b040", weight: 2, dashArray: "6 4", fillOpacity: 0.12, className: "map-site" },
  conflicts: { color: "#ff3b3b", weight: 3, fillOpacity: 0.35, className: "map-conflict" },
  tracks: { color: "#b58cff", weight: 2, className: "map-track" },
};

const shortIds = (text) => String(text).replace(/\b([0-9a-f]{8})-[0-9a-f-]{27}\b/g, "$1");

function label(props) {
  return shortIds(fullLabel(props));
}

function fullLabel(props) {
  const p = props || {};
  if (p.suggestion !== undefined || p.volume_id) {
    return [p.title || t(`map.conflict_kind`, { kind: p.kind || "" }), (p.parties || []).join("–"),
      p.separation_m !== undefined ? `${Math.round(p.separation_m)} m` : "", suggestion(p)].filter(Boolean).join(" · ");
  }
  return [p.title || p.name || p.kind || "", p.party || p.declared_by || p.from || "",
    p.start ? `${p.start} → ${p.end || ""}` : "", p.lower_m !== undefined ? `${p.lower_m}–${p.upper_m} m` : "",
    p.verification || ""].filter(Boolean).join(" · ");
}

function toLayer(feature, layer) {
  const style = STYLE[layer];
  const g = feature.geometry;
  const p = feature.properties || {};
  const radius = p.radius_m ?? p.exclusion_radius_m ?? p.radius;
  let out;
  if (g.type === "Point" && radius) out = L.circle([g.coordinates[1], g.coordinates[0]], { ...style, radius });
  else if (g.type === "Point") out = L.circleMarker([g.coordinates[1], g.coordinates[0]], { ...style, radius: 6, fillOpacity: 0.9 });
  else if (g.type === "LineString" && layer !== "tracks") out = L.geoJSON(feature, { style: { ...style, weight: Math.max(4, Math.min(16, (p.width_m || 0) / 1000)) } });
  else out = L.geoJSON(feature, { style, pointToLayer: (_f, ll) => L.circleMarker(ll, { ...style, radius: 6 }) });
  out.bindTooltip(label(p));
  return out;
}

function makeMap(el) {
  map = L.map(el, { attributionControl: true, zoomControl: true, worldCopyJump: true, minZoom: 2, maxZoom: 12,
    keyboard: true, preferCanvas: false }).setView([50, 30], 4);
  map.attributionControl.setPrefix(false);
  map.attributionControl.addAttribution(t("map.attribution"));
  groups = Object.fromEntries(LAYERS.map((name) => [name, L.featureGroup().addTo(map)]));
  const overlays = Object.fromEntries(LAYERS.map((name) => [t(`map.${name}`), groups[name]]));
  L.control.layers(null, overlays, { collapsed: false }).addTo(map);
  L.control.scale({ imperial: false }).addTo(map);
}

async function loadBasemap() {
  if (basemap) return;
  const response = await fetch("/ui/basemap.geojson");
  const geo = await response.json();
  basemap = L.geoJSON(geo, {
    style: { color: "#5b6b7c", weight: 1, fillColor: "#1c2530", fillOpacity: 1, className: "map-land" },
    interactive: false,
  }).addTo(map);
  basemap.bringToBack();
}

/** The suggested resolution in the interface language (the node's text otherwise). */
function suggestion(p) {
  const s = p.suggested;
  if (!s) return p.suggestion || (p.volume_id ? t("map.no_resolution") : "");
  const parts = [];
  if (s.time_shift_s) parts.push(t(s.time_shift_s > 0 ? "map.later" : "map.earlier", { time: duration(Math.abs(s.time_shift_s)) }));
  if (s.altitude_shift_m) parts.push(t(s.altitude_shift_m > 0 ? "map.up" : "map.down", { m: Math.round(Math.abs(s.altitude_shift_m)) }));
  return parts.length ? t("map.suggest", { what: parts.join(", ") }) : "";
}

function resolveButton(p) {
  if (!p.volume_id || p.move !== state.party || !p.suggested || !can("notification.file")) return null;
  if (!has("/api/v1/notifications/{notification_id}/resolve", "post")) return null;
  return h("button", { type: "button", class: "btn btn-small", onclick: async () => {
    try {
      await post(`/api/v1/notifications/${encodeURIComponent(p.volume_id)}/resolve`, { other: p.other_id, option: "suggested" });
      ui.toast(t("map.resolved"));
      await loadLayers();
    } catch (exc) {
      ui.toast(exc.problem?.detail || exc.message, "error");
    }
  } }, t("map.resolve"));
}

function listItem(feature, layer, leafletLayer) {
  const p = feature.properties || {};
  const item = h("li", { class: `map-item map-item-${layer}` },
    h("button", { type: "button", class: "link", onclick: () => focusOn(leafletLayer) },
      h("span", { class: ["chip", `layer-${layer}`] }, t(`map.one.${layer}`)), " ", label(p) || t("map.unnamed")),
    p.created ? h("span", {}, " ", timeEl(p.created)) : null, " ", resolveButton(p));
  return item;
}

let fitted = false;

/** On first load, frame what there is to see (conflicts first, else everything). */
function fitOnce() {
  if (fitted) return;
  const target = groups.conflicts.getLayers().length ? groups.conflicts
    : L.featureGroup(LAYERS.flatMap((n) => groups[n].getLayers()));
  const bounds = target.getBounds?.();
  if (bounds?.isValid()) {
    map.fitBounds(bounds.pad(0.5), { maxZoom: 7 });
    fitted = true;
  }
}

function focusOn(layer) {
  const bounds = layer.getBounds ? layer.getBounds() : null;
  if (bounds?.isValid()) map.fitBounds(bounds, { maxZoom: 9 });
  else if (layer.getLatLng) map.setView(layer.getLatLng(), 8);
  layer.openTooltip?.();
}

async function loadLayers() {
  const results = await Promise.all(LAYERS.map((name) => mapdata.load(name)));
  // Conflicts come from /conflicts when the node has it; alerts add intrusions (and
  // conflicts, on a node without /conflicts).
  const alerts = await mapdata.alertFeatures();
  const fromAlerts = results[LAYERS.indexOf("conflicts")].available
    ? alerts.filter((f) => f.properties?.kind === "intrusion") : alerts;
  const legend = [];
  const items = [];
  LAYERS.forEach((name, i) => {
    const res = results[i];
    const feats = name === "conflicts" ? [...res.features, ...fromAlerts] : res.features;
    groups[name].clearLayers();
    for (const f of feats) {
      if (!f.geometry) continue;
      const layer = toLayer(f, name).addTo(groups[name]);
      if (name === "conflicts" || name === "sites") items.push(listItem(f, name, layer));
    }
    const available = res.available || (name === "conflicts" && fromAlerts.length > 0);
    legend.push(h("li", { class: `legend-${name}` }, h("span", { class: ["swatch", `layer-${name}`] }), " ", t(`map.${name}`), ": ",
      available ? String(feats.length) : t("common.not_available_short")));
  });
  replace(legendEl, legend);
  const none = results.every((r) => !r.available) && fromAlerts.length === 0;
  replace(noticeEl, none ? ui.notAvailable("map.feature") : "");
  replace(listEl, items.length ? items : h("li", { class: "empty" }, t("map.no_conflicts")));
  $("#map")?.setAttribute("data-conflicts", String(groups.conflicts.getLayers().length));
  fitOnce();
}

async function loadTemplates() {
  if (!has("/api/v1/notifications/templates")) return {};
  try {
    const items = (await get("/api/v1/notifications/templates")).items || [];
    return Object.fromEntries(items.filter((it) => it.feature?.geometry?.type === "Point").map((it) => [it.kind, it.feature]));
  } catch {
    return {};
  }
}

async function notificationForm() {
  if (!has("/api/v1/notifications", "post") || !can("notification.file")) return null;
  templates = await loadTemplates();
  const kinds = Object.keys(templates).length ? POINT_KINDS.filter((k) => templates[k]) : ["airspace_reservation"];
  const f = {
    kind: select(kinds.map((k) => [k, t(`notice.${k}`)]), kinds[0]),
    title: h("input", { type: "text", required: true, maxlength: 200 }),
    lat: h("input", { type: "number", step: "any", required: true, min: -90, max: 90 }),
    lon: h("input", { type: "number", step: "any", required: true, min: -180, max: 180 }),
    radius: h("input", { type: "number", step: "any", required: true, min: 0.1, value: 10 }),
    lower: h("input", { type: "number", step: "any", required: true, value: 0 }),
    upper: h("input", { type: "number", step: "any", required: true, value: 3000 }),
    start: h("input", { type: "datetime-local", required: true }),
    end: h("input", { type: "datetime-local", required: true }),
  };
  map.on("click", (ev) => {
    f.lat.value = ev.latlng.lat.toFixed(4);
    f.lon.value = L.Util.wrapNum(ev.latlng.lng, [-180, 180], true).toFixed(4);
  });
  const out = h("div", { role: "status" });
  return ui.section("map.file", h("p", { class: "hint" }, t("map.file_hint")),
    h("form", { class: "stack", onsubmit: (ev) => fileNotification(ev, f, out) },
      field("nt-kind", t("map.kind"), f.kind), field("nt-title", t("desk.title"), f.title),
      h("div", { class: "row" }, field("nt-lat", t("map.lat"), f.lat), field("nt-lon", t("map.lon"), f.lon), field("nt-radius", t("map.radius_km"), f.radius)),
      h("div", { class: "row" }, field("nt-lower", t("map.lower"), f.lower), field("nt-upper", t("map.upper"), f.upper)),
      h("div", { class: "row" }, field("nt-start", t("evidence.since"), f.start), field("nt-end", t("evidence.until"), f.end)),
      h("button", { class: "btn btn-primary", type: "submit" }, t("map.file_submit")), out));
}

async function fileNotification(ev, f, out) {
  ev.preventDefault();
  const base = templates[f.kind.value]?.properties || {};
  const feature = {
    type: "Feature",
    geometry: { type: "Point", coordinates: [Number(f.lon.value), Number(f.lat.value)] },
    properties: {
      ...structuredClone(base),
      kind: f.kind.value, title: f.title.value.trim(), start: fromUtcInput(f.start.value), end: fromUtcInput(f.end.value),
      lower_m: Number(f.lower.value), upper_m: Number(f.upper.value), radius_m: Number(f.radius.value) * 1000,
      to: state.parties,
    },
  };
  try {
    const answer = await post("/api/v1/notifications", feature);
    const n = (answer.conflicts || []).length;
    replace(out, h("p", { class: n ? "notice notice-error" : "notice notice-ok" }, t("map.filed", { n })));
    await loadLayers();
  } catch (exc) {
    replace(out, ui.problem(exc, "map.feature"));
  }
}

export const mapView = {
  id: "map",
  title: "nav.map",
  every: 15000,
  async render(root) {
    const el = h("div", { id: "map", class: "map", role: "region", "aria-label": t("map.region") });
    listEl = h("ul", { class: "map-list", id: "map-list" });
    legendEl = h("ul", { class: "legend", id: "map-legend" });
    noticeEl = h("div", { id: "map-notice" });
    replace(root, ui.heading("nav.map"), noticeEl, h("div", { class: "map-layout" }, el,
      h("aside", { class: "map-side" }, ui.section("map.legend", legendEl), ui.section("map.conflicts_sites", listEl))));
    if (map) map.remove();
    fitted = false;
    makeMap(el);
    basemap = null;
    await data.parties().catch(() => []);
    root.append((await notificationForm()) || "");
    await loadBasemap().catch(() => ui.toast(t("map.no_basemap"), "error"));
    await loadLayers();
    requestAnimationFrame(() => map?.invalidateSize());
  },
  refresh(event) {
    const k = event.kind;
    if (k === "alert" || k === "resync" || k === "poll" || k.startsWith("notification") || k.startsWith("track") || k.startsWith("conflict")) {
      return loadLayers();
    }
    return null;
  },
  dispose() {
    if (map) map.remove();
    map = null;
  },
};
