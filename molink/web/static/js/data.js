// Cached reference data: channels, the catalogue, the parties this node talks to.
import { get } from "./api.js";
import { state, update } from "./store.js";

export async function channels(force = false) {
  if (!state.channels || force) update({ channels: (await get("/api/v1/channels")).items });
  return state.channels;
}

export async function catalogue(force = false) {
  if (!state.catalogue || force) update({ catalogue: await get("/api/v1/catalogue") });
  return state.catalogue;
}

/** Peers from the link status, plus every channel member (without this node). */
export async function parties() {
  const found = new Set(state.parties);
  try {
    const status = await get("/api/v1/status");
    for (const link of status.links) found.add(link.party);
  } catch {
    /* links unknown: fall back to channel members */
  }
  for (const ch of (await channels().catch(() => [])) || []) {
    for (const member of ch.members) found.add(member);
  }
  found.delete(state.party);
  const list = [...found].sort();
  update({ parties: list });
  return list;
}

/** Fill "{name}" placeholders of a catalogue text. */
export function fillTemplate(text, params) {
  return text.replace(/\{([a-z_][a-z0-9_]*)\}/gi, (whole, name) => (params[name] ? params[name] : whole));
}
