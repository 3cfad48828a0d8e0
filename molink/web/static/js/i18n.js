// Interface languages: English, Russian, Ukrainian. One dictionary per language;
// a missing key falls back to English, then to the key itself (never blank).
import en from "./lang/en.js";
import ru from "./lang/ru.js";
import uk from "./lang/uk.js";

export const LANGUAGES = [
  ["en", "English"],
  ["ru", "Русский"],
  ["uk", "Українська"],
];
const DICTS = { en, ru, uk };
const STORE_KEY = "molink.lang";
let current = "en";

/** Translate ``key``, filling ``{name}`` placeholders from ``params``. */
export function t(key, params = {}) {
  let text = lookup(current, key, params.n) ?? lookup("en", key, params.n) ?? key;
  for (const [name, value] of Object.entries(params)) {
    text = text.replaceAll(`{${name}}`, String(value));
  }
  return text;
}

function lookup(lang, key, count) {
  const entry = DICTS[lang]?.[key];
  if (entry === undefined || typeof entry === "string") return entry;
  const form = new Intl.PluralRules(lang).select(Number(count ?? 0));
  return entry[form] ?? entry.other;
}

export function lang() {
  return current;
}

/** Choose the interface language (stored per browser) and re-label the static page. */
export function setLang(code) {
  current = DICTS[code] ? code : "en";
  document.documentElement.lang = current;
  try {
    localStorage.setItem(STORE_KEY, current);
  } catch {
    /* private mode: keep it for this page only */
  }
  translateStatic(document);
  document.dispatchEvent(new CustomEvent("molink:lang", { detail: current }));
}

/** The stored choice, else the browser's language if we have it, else English. */
export function initialLang() {
  let stored = null;
  try {
    stored = localStorage.getItem(STORE_KEY);
  } catch {
    stored = null;
  }
  const browser = (navigator.language || "en").slice(0, 2).toLowerCase();
  return DICTS[stored] ? stored : DICTS[browser] ? browser : "en";
}

/** Fill elements marked data-i18n (text) and data-i18n-<attr> (attributes). */
export function translateStatic(root) {
  for (const el of root.querySelectorAll("[data-i18n]")) {
    el.textContent = t(el.dataset.i18n);
  }
  for (const attr of ["aria-label", "title", "placeholder"]) {
    const name = `data-i18n-${attr}`;
    for (const el of root.querySelectorAll(`[${name}]`)) {
      el.setAttribute(attr, t(el.getAttribute(name)));
    }
  }
}
