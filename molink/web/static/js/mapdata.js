// Where the map's layers come from. The deconfliction API is still growing, so each
// layer lists the endpoints that may carry it; the first one the node publishes is
// used. Anything GeoJSON-like is accepted: a FeatureCollection, a Feature, or
// {"items": [...]} whose items are Features or carry "geometry" or "lat"/"lon".
import { ApiError, firstOf, get } from "./api.js";

export const SOURCES = {
  notifications: ["/api/v1/notifications.geojson", "/api/v1/notifications", "/api/v1/volumes"],
  sites: ["/api/v1/sites.geojson", "/api/v1/sites", "/api/v1/protected-sites"],
  conflicts: ["/api/v1/conflicts.geojson", "/api/v1/conflicts"],
  tracks: ["/api/v1/tracks.geojson", "/api/v1/tracks"],
};

function asFeature(item) {
  if (!item || typeof item !== "object") return null;
  if (item.type === "Feature") return item;
  if (item.feature?.type === "Feature") return { ...item.feature, properties: { ...item, ...item.feature.properties } };
  let geometry = item.geometry || item.overlap || item.area || item.footprint;
  if (geometry?.type === "Feature") geometry = geometry.geometry;
  if (geometry?.type) return { type: "Feature", geometry, properties: item };
  const lat = item.lat ?? item.latitude;
  const lon = item.lon ?? item.longitude;
  if (typeof lat === "number" && typeof lon === "number") {
    return { type: "Feature", geometry: { type: "Point", coordinates: [lon, lat] }, properties: item };
  }
  return null;
}

/** Features from any of the accepted shapes. */
export function features(payload) {
  if (!payload) return [];
  if (payload.type === "FeatureCollection") return payload.features || [];
  if (payload.type === "Feature") return [payload];
  const items = Array.isArray(payload) ? payload : payload.items || payload.features || [];
  return items.map(asFeature).filter(Boolean);
}

/** Tracks as lines: points grouped by track_id, in time order. */
export function trackFeatures(payload) {
  const feats = features(payload);
  const lines = feats.filter((f) => f.geometry?.type === "LineString");
  const points = feats.filter((f) => f.geometry?.type === "Point");
  const byTrack = new Map();
  for (const p of points) {
    const id = p.properties?.track_id ?? p.properties?.track ?? "track";
    if (!byTrack.has(id)) byTrack.set(id, []);
    byTrack.get(id).push(p);
  }
  for (const [id, pts] of byTrack) {
    pts.sort((a, b) => String(a.properties?.time).localeCompare(String(b.properties?.time)));
    const coords = pts.map((p) => p.geometry.coordinates);
    if (coords.length > 1) lines.push({ type: "Feature", geometry: { type: "LineString", coordinates: coords }, properties: { track_id: id, ...pts[pts.length - 1].properties } });
    else lines.push(pts[0]);
  }
  return lines;
}

/** Load one layer: {available, features, error}. */
export async function load(layer) {
  const path = firstOf(SOURCES[layer]);
  if (!path) return { available: false, features: [] };
  try {
    const payload = await get(path);
    return { available: true, features: layer === "tracks" ? trackFeatures(payload) : features(payload) };
  } catch (exc) {
    if (exc instanceof ApiError && exc.missing) return { available: false, features: [] };
    return { available: true, features: [], error: exc };
  }
}

/** Conflicts and intrusions raised as alerts, where the alert carries a geometry. */
export async function alertFeatures() {
  try {
    const page = await get("/api/v1/alerts?limit=500");
    return page.items
      .filter((a) => a.kind === "conflict" || a.kind === "intrusion")
      .map((a) => asFeature({ ...(a.data || {}), alert_id: a.id, kind: a.kind, title: a.title, created: a.created, parties: a.parties }))
      .filter(Boolean);
  } catch {
    return [];
  }
}
