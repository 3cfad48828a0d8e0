"""Screenshots of the console's main screens, for docs/console.md and the README.

Against a running demo whose nodes serve the console::

    python -m tests.browser.demo_console --dir /tmp/demo --base-port 9610 &   # or molink demo
    python -m tests.browser.screenshots --network /tmp/demo/network.json --out docs/screenshots

It adds a little traffic of its own (a FLASH for the alarm, a translation, a coded
message) so that every screen has something to show. Chromium is Debian's
(/usr/bin/chromium); nothing is downloaded.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright

from molink.transport.http import pinned_context
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

VIEWPORT: ViewportSize = {"width": 1400, "height": 900}


class Node:
    """One party's node from network.json, with its provisioned tokens."""

    def __init__(self, entry: dict[str, Any]) -> None:
        self.party: str = entry["party"]
        self.url: str = entry["api_url"]
        self.cert = Path(entry["ca_cert"]).read_text(encoding="utf-8")
        self.home = Path(entry["ca_cert"]).parent.parent
        self.token: str = entry["token"]

    def role_token(self, role: str) -> str:
        path = self.home / "tokens" / f"{role}.token"
        return path.read_text(encoding="utf-8").strip() if path.exists() else self.token

    def client(self, role: str = "duty") -> httpx.Client:
        token = self.token if role == "duty" else self.role_token(role)
        return httpx.Client(
            base_url=self.url,
            verify=pinned_context(self.cert),
            headers={"Authorization": f"Bearer {token}"},
            timeout=20,
        )


def _wait(predicate: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.1)


def seed(nodes: dict[str, Node]) -> dict[str, str]:
    """Traffic for the screens: a FLASH to RU, a translation at US, a coded message."""
    us, ru = nodes["US"], nodes["RU"]
    found: dict[str, str] = {}
    with us.client() as client:
        answer = client.post(
            "/api/v1/messages",
            json={
                "to": ["RU"],
                "precedence": "FLASH",
                "channel": "us-ru-emergency",
                "subject": "Unannounced aircraft near Vaindloo",
                "body": "Three aircraft without flight plan or transponder, 59.8N 26.4E, "
                "heading west at FL300. Request immediate identification.",
            },
        )
        answer.raise_for_status()
        found["flash"] = answer.json()["id"]
        client.post(
            "/api/v1/messages",
            json={
                "to": ["UA", "AE"],
                "precedence": "PRIORITY",
                "channel": "trilateral",
                "subject": "Reconciliation meeting",
                "body": "Proposed: reconciliation of the exchange lists at 1000Z tomorrow.",
            },
        ).raise_for_status()
    with ru.client() as client:
        _wait(lambda: client.get(f"/api/v1/messages/{found['flash']}").status_code == 200, "FLASH")
    with us.client() as client:
        inbox = client.get("/api/v1/messages", params={"box": "inbox", "limit": 100}).json()
    russian = [m for m in inbox["items"] if m["lang"] == "ru" and not m["code"] and m["body"]]
    if russian:
        found["russian"] = russian[0]["id"]
        with us.client("supervisor") as client:
            if not client.get(f"/api/v1/messages/{found['russian']}/translations").json()["items"]:
                client.post(
                    f"/api/v1/messages/{found['russian']}/translations",
                    json={
                        "lang": "en",
                        "text": "We confirm receipt. The military dialogue channel is restored.",
                    },
                )
    return found


def sign_in(browser: Browser, node: Node, lang: str = "en") -> Page:
    context = browser.new_context(ignore_https_errors=True, viewport=VIEWPORT, locale=lang)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{node.url}/")
    page.fill("#token", node.token)
    page.click("#token-submit")
    page.wait_for_selector("#live[data-state=live]")
    return page


def show(page: Page, route: str, ready: str, settle_ms: int = 600) -> None:
    page.evaluate("h => { location.hash = h; }", f"#/{route}")
    page.wait_for_selector(ready)
    page.wait_for_timeout(settle_ms)


def shoot(page: Page, out: Path, name: str, *, full: bool = False) -> None:
    page.mouse.move(0, 0)
    page.screenshot(path=str(out / f"{name}.png"), full_page=full)
    print(f"  {out / f'{name}.png'}")


def _first_id(node: Node, path: str) -> str | None:
    with node.client() as client:
        answer = client.get(path)
    if answer.status_code != 200 or not answer.json()["items"]:
        return None
    return str(answer.json()["items"][0]["id"])


def run(network: Path, out: Path) -> None:
    entries = json.loads(network.read_text(encoding="utf-8"))["nodes"]
    nodes = {e["party"]: Node(e) for e in entries}
    out.mkdir(parents=True, exist_ok=True)
    seeded = seed(nodes)
    incident = _first_id(nodes["US"], "/api/v1/incidents")
    agreement = _first_id(nodes["US"], "/api/v1/ledger")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        login = browser.new_context(ignore_https_errors=True, viewport=VIEWPORT).new_page()
        login.goto(f"{nodes['US'].url}/")
        login.wait_for_selector("#token")
        login.wait_for_timeout(500)
        shoot(login, out, "login")

        ru = sign_in(browser, nodes["RU"])
        ru.wait_for_selector("#alarm:not([hidden])")
        ru.wait_for_timeout(1200)
        shoot(ru, out, "flash-alarm")
        for _ in range(10):  # acknowledge every FLASH waiting at RU
            if ru.locator("#alarm").is_hidden():
                break
            ru.keyboard.press("a")
            ru.wait_for_timeout(800)

        us = sign_in(browser, nodes["US"])
        show(us, "inbox", "#main tbody tr[data-id]")
        shoot(us, out, "inbox")
        show(us, "outbox", "#main .st-acknowledged", 1500)
        shoot(us, out, "outbox")
        if "russian" in seeded:
            show(us, f"message/{seeded['russian']}", ".translations .translation")
            shoot(us, out, "message")
        show(us, "compose?channel=us-ru-emergency&mode=coded", "#catalogue-status > *")
        us.select_option("#code", "DISTRESS")
        us.fill("#param-area", "Black Sea 44.5N 32.0E")
        shoot(us, out, "compose-coded")
        show(us, "channel/us-ru-dialogue", "#panel-chan-history tbody tr")
        shoot(us, out, "channel")
        show(us, "status", "#panel-status-links tbody th", 1200)
        shoot(us, out, "links-alerts")
        show(us, "map", "path.map-land", 1500)
        shoot(us, out, "map")
        if incident:
            show(us, f"incidents/{incident}", "#panel-desk-accounts .account")
            shoot(us, out, "incident", full=True)
        if agreement:
            show(us, f"ledger/{agreement}", "#panel-ledger-reconciliation tbody tr")
            shoot(us, out, "ledger")
        show(us, "log", "#panel-log-checkpoint pre", 1000)
        shoot(us, out, "log")
        show(us, "evidence", "#main h1")
        shoot(us, out, "evidence")

        ua = sign_in(browser, nodes["UA"], lang="uk-UA")
        show(ua, "inbox", "#main tbody tr[data-id]")
        shoot(ua, out, "inbox-uk")
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", type=Path, required=True, help="the demo's network.json")
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    args = parser.parse_args()
    run(args.network, args.out)


if __name__ == "__main__":
    main()
