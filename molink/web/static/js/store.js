// The console's shared state: who is signed in, where, and what the node knows.
// Views read it; they re-render on "molink:state" events.

export const state = {
  session: null, // {kind: "token"|"operator", token, party, operator, role, expires}
  party: null, // this node's party
  parties: [], // peers known from link status
  channels: null, // cached channel list
  catalogue: null, // cached coded-message catalogue
  inbox: [], // latest inbox listing (for the alarm and counters)
  live: "connecting", // "live" | "connecting" | "offline"
};

/** Merge values into the state and tell listeners which keys changed. */
export function update(values) {
  Object.assign(state, values);
  document.dispatchEvent(new CustomEvent("molink:state", { detail: Object.keys(values) }));
}

// What this operator may do: the node's answer to GET /api/v1/session lists the
// permissions (docs/roles.md). Without it (older node) everything is shown; the node
// enforces its rules either way.
export function can(action) {
  const granted = state.session?.permissions;
  if (!Array.isArray(granted)) return true;
  return granted.includes(action);
}
