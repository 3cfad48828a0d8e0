// Dates in UTC, with the Date-Time Group (ACP 121): DDHHMMZMONYY, e.g. 141003ZMAR23.
// DTG month abbreviations are English in every interface language (as on the wire).
const MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const pad = (n, w = 2) => String(n).padStart(w, "0");

function asDate(value) {
  if (value === null || value === undefined || value === "") return null;
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** "141003ZMAR23" for 2023-03-14T10:03Z; "" for no date. */
export function dtg(value) {
  const d = asDate(value);
  if (!d) return "";
  const day = pad(d.getUTCDate());
  const time = pad(d.getUTCHours()) + pad(d.getUTCMinutes());
  return `${day}${time}Z${MONTHS[d.getUTCMonth()]}${pad(d.getUTCFullYear() % 100)}`;
}

/** "2023-03-14 10:03:07Z" (seconds, UTC). */
export function utc(value) {
  const d = asDate(value);
  if (!d) return "";
  return d.toISOString().slice(0, 19).replace("T", " ") + "Z";
}

/** "10:03:07Z" */
export function utcClock(value) {
  const d = asDate(value);
  return d ? d.toISOString().slice(11, 19) + "Z" : "";
}

/** Signed seconds from ``now`` until ``value`` (negative once passed), or null. */
export function secondsUntil(value, now = Date.now()) {
  const d = asDate(value);
  return d ? Math.round((d.getTime() - now) / 1000) : null;
}

/** "4:05", "1:02:03" or "-0:12" for a signed number of seconds. */
export function duration(seconds) {
  const sign = seconds < 0 ? "-" : "";
  let s = Math.abs(seconds);
  const hours = Math.floor(s / 3600);
  s -= hours * 3600;
  const minutes = Math.floor(s / 60);
  const rest = pad(s - minutes * 60);
  return hours ? `${sign}${hours}:${pad(minutes)}:${rest}` : `${sign}${minutes}:${rest}`;
}

/** A <time> element showing the DTG, with the full UTC time as its title and datetime. */
export function timeEl(value) {
  const d = asDate(value);
  const el = document.createElement("time");
  if (!d) {
    el.textContent = "—";
    return el;
  }
  el.dateTime = d.toISOString();
  el.title = utc(d);
  el.textContent = dtg(d);
  return el;
}

/** An ISO string from a <input type="datetime-local"> value read as UTC. */
export function fromUtcInput(value) {
  if (!value) return null;
  const d = new Date(`${value}Z`);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}
