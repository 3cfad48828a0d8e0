// The node's operator API, same origin, with the operator's bearer token.
// Errors are RFC 9457 problem+json; a route the node does not have is "missing",
// so screens for capabilities still being built say "not available on this node".

let token = null;
const extraHeaders = {};

export function setToken(value) {
  token = value || null;
}

/** A header sent with every request (e.g. X-Molink-Location for a geofenced terminal). */
export function setHeader(name, value) {
  if (value) extraHeaders[name] = value;
  else delete extraHeaders[name];
}

export function currentToken() {
  return token;
}

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }

  /** The node has no such endpoint (not: no such message). */
  /** The role or scopes lack a permission (the problem names it). */
  get forbidden() {
    return this.status === 403;
  }

  get missing() {
    const type = String(this.problem.type || "");
    return (this.status === 404 && !type.endsWith("/not-found")) || [405, 501].includes(this.status);
  }
}

async function problemOf(response) {
  try {
    return await response.json();
  } catch {
    return { title: response.statusText };
  }
}

/** Send a request; ``as`` is "json" (default), "text" or "blob". */
export async function request(method, path, { json, body, as = "json", headers = {} } = {}) {
  const init = { method, headers: { ...extraHeaders, ...headers }, cache: "no-store" };
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (body !== undefined) {
    init.body = body;
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (exc) {
    throw new ApiError(0, { title: "network", detail: String(exc.message || exc) });
  }
  if (!response.ok) {
    const error = new ApiError(response.status, await problemOf(response));
    if (response.status === 401 && token) {
      document.dispatchEvent(new CustomEvent("molink:unauthenticated", { detail: error }));
    }
    throw error;
  }
  if (as === "text") return response.text();
  if (as === "blob") return { blob: await response.blob(), name: fileName(response) };
  if (response.status === 204) return null;
  return response.json();
}

function fileName(response) {
  const header = response.headers.get("content-disposition") || "";
  const match = header.match(/filename="?([^";]+)"?/);
  return match ? match[1] : "download";
}

export const get = (path, options) => request("GET", path, options);
export const post = (path, json, options = {}) => request("POST", path, { ...options, json });

/** Query string from an object, skipping empty values. */
export function query(params) {
  const qs = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") qs.set(key, value);
  }
  const text = qs.toString();
  return text ? `?${text}` : "";
}

// -- capabilities: which endpoints this node has (from its OpenAPI) ---------------

let paths = null;

/** Load the node's OpenAPI paths once; later calls reuse them. */
export async function loadCapabilities(force = false) {
  if (paths && !force) return paths;
  try {
    const spec = await request("GET", "/openapi.json");
    paths = new Map(Object.entries(spec.paths || {}).map(([p, ops]) => [p, Object.keys(ops)]));
  } catch {
    paths = new Map();
  }
  return paths;
}

/** Does the node publish ``method path``? Unknown (no OpenAPI) counts as yes. */
export function has(path, method = "get") {
  if (!paths || paths.size === 0) return true;
  return (paths.get(path) || []).includes(method.toLowerCase());
}

/** The first of several candidate paths the node publishes, or null. */
export function firstOf(candidates, method = "get") {
  if (!paths || paths.size === 0) return null;
  return candidates.find((p) => has(p, method)) || null;
}
