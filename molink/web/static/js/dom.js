// Small DOM helpers. Everything is built with createElement/textContent:
// no innerHTML with data, so nothing a peer sends can run in the console.

/** Create an element: h("button", {class: "x", onclick: fn}, "text", child). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    setAttr(el, key, value);
  }
  append(el, children);
  return el;
}

function setAttr(el, key, value) {
  if (value === undefined || value === null || value === false) return;
  if (key.startsWith("on") && typeof value === "function") {
    el.addEventListener(key.slice(2), value);
  } else if (key === "class") {
    el.className = Array.isArray(value) ? value.filter(Boolean).join(" ") : value;
  } else if (key === "dataset") {
    Object.assign(el.dataset, value);
  } else if (key === "value" || key === "checked" || key === "selected") {
    el[key] = value;
  } else {
    el.setAttribute(key, value === true ? "" : String(value));
  }
}

/** Append children (strings, nodes, arrays, null) to an element. */
export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replace an element's content. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

/** A labelled form field: label + control, wired with for/id. */
export function field(id, label, control, hint) {
  control.id = id;
  const hintEl = hint ? h("small", { class: "hint", id: `${id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute("aria-describedby", hintEl.id);
  return h("div", { class: "field" }, h("label", { for: id }, label), control, hintEl);
}

/** A <select> from [value, label] pairs. */
export function select(options, selected, attrs = {}) {
  return h(
    "select",
    attrs,
    options.map(([value, label]) => h("option", { value, selected: value === selected }, label)),
  );
}

/** Trigger a file download of a Blob (evidence bundles, courier files, JWS). */
export function download(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: name, class: "sr-only" });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
