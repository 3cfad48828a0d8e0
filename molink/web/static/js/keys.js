// Keyboard: "?" help, "c" compose, "/" search, "a" acknowledge, "r" refresh,
// "g" then a letter to go to a screen, j/k and Enter in lists (see ui.keyRows).
import * as alarm from "./alarm.js";
import { $ } from "./dom.js";
import { activeView, SCREENS } from "./router.js";
import * as siren from "./siren.js";

let pendingG = false;
let gTimer = null;

function typing(target) {
  return Boolean(target.closest?.("input, textarea, select, [contenteditable=true]"));
}

function go(screen) {
  location.hash = `#/${screen}`;
}

function goTo(letter) {
  const screen = SCREENS.find((s) => s[3] === `g ${letter}`);
  if (screen) go(screen[0]);
  return Boolean(screen);
}

async function focusSearch() {
  if (activeView()?.focusSearch?.()) return;
  go("inbox");
  setTimeout(() => $("#search")?.focus(), 300);
}

function single(ev) {
  switch (ev.key) {
    case "?":
      $("#help")?.showModal();
      return true;
    case "c":
      go("compose");
      return true;
    case "/":
      focusSearch();
      return true;
    case "a":
      activeView()?.acknowledge?.();
      return true;
    case "r":
      activeView()?.refresh?.({ kind: "resync" });
      return true;
    case "g":
      pendingG = true;
      clearTimeout(gTimer);
      gTimer = setTimeout(() => { pendingG = false; }, 1500);
      return true;
    default:
      return false;
  }
}

export function onKey(ev) {
  siren.unlock();
  if (document.body.classList.contains("signed-out")) return;
  if (alarm.handleKey(ev)) return;
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (ev.key === "Escape" && typing(ev.target)) {
    ev.target.blur();
    return;
  }
  if (typing(ev.target) || $("#help")?.open) return;
  if (pendingG) {
    pendingG = false;
    if (goTo(ev.key)) ev.preventDefault();
    return;
  }
  if (single(ev)) ev.preventDefault();
}

export function install() {
  document.addEventListener("keydown", onKey);
  document.addEventListener("pointerdown", () => siren.unlock());
}
