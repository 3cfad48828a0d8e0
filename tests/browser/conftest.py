"""Browser tests: Debian's Chromium driven by Playwright against real node processes.

Chromium is never downloaded (no ``playwright install``): the tests use
``/usr/bin/chromium`` (``apt-get install -y chromium``). Without it they are skipped
with a visible reason, except under ``CI=true``, where a missing browser is a failure.

Nodes are started with ``tests.support.procnet`` and serve the console through
``tests.browser.console_node`` (which installs it if ``molink/api/app.py`` does not yet).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.procnet import ProcNet, ProcNode

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # The FLASH siren is WebAudio; let it start without a click in a headless run.
    "--autoplay-policy=no-user-gesture-required",
]
# Console messages that are not faults of the console.
_BENIGN = (re.compile(r"Failed to load resource: .* 401"),)


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here is a browser test; without Chromium outside CI, skip visibly."""
    here = Path(__file__).parent
    missing = not CHROMIUM.exists() and not _in_ci()
    reason = f"{CHROMIUM} is missing (apt-get install -y chromium); CI is not set"
    for item in items:
        if Path(str(item.fspath)).parent != here:
            continue
        item.add_marker(pytest.mark.browser)
        if missing:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Chromium for one test module. Not session-wide: Playwright's sync API keeps an
    asyncio loop running while it is open, which would break later tests' asyncio.run."""
    if not CHROMIUM.exists():
        pytest.fail(f"CI=true but {CHROMIUM} is missing: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


def _console_cmd(node: ProcNode, _cmd: list[str]) -> list[str]:
    import sys

    return [sys.executable, "-m", "tests.browser.console_node", "--dir", str(node.home)]


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProcNet]:
    """Two real nodes, US and RU, serving the console; started once per module."""
    env = {"PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    network = ProcNet(tmp_path_factory.mktemp("browser"), ("US", "RU"), env=env, wrap=_console_cmd)
    try:
        network.start()
        yield network
    finally:
        network.close()


def token_of(node: ProcNode, role: str = "duty") -> str:
    """A provisioned token (``tokens/<role>.token``); the duty token otherwise."""
    path = node.home / "tokens" / f"{role}.token"
    return path.read_text(encoding="utf-8").strip() if path.exists() else node.token


def api(node: ProcNode, role: str = "duty") -> httpx.Client:
    client = node.client()
    client.headers["Authorization"] = f"Bearer {token_of(node, role)}"
    return client


def openapi_paths(node: ProcNode) -> dict[str, Any]:
    with node.client() as client:
        paths: dict[str, Any] = client.get("/openapi.json").json()["paths"]
    return paths


@dataclass
class Console:
    """One signed-in console page, and the console messages it logged."""

    page: Any
    node: ProcNode
    problems: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def goto(self, route: str) -> None:
        """Go to ``#/<route>`` (no reload) and wait until that screen is shown."""
        self.page.evaluate("h => { location.hash = h; }", f"#/{route}")
        screen = route.split("?", maxsplit=1)[0].split("/", maxsplit=1)[0]
        self.page.wait_for_selector(f"#main[data-screen={screen}]")


def _body(response: Any) -> str:
    try:
        return str(response.text())[:300]
    except Exception:  # a diagnostic only: the body may be gone
        return ""


def _watch(page: Any, problems: list[str]) -> None:
    def on_console(msg: Any) -> None:
        if msg.type in ("error", "warning") and not any(p.search(msg.text) for p in _BENIGN):
            problems.append(f"{msg.type}: {msg.text}")

    def on_response(response: Any) -> None:
        if response.status >= 400 and response.status != 401:
            problems.append(
                f"HTTP {response.status}: {response.request.method} {response.url} "
                f"{_body(response)}"
            )

    page.on("console", on_console)
    page.on("response", on_response)
    page.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}"))


@pytest.fixture
def open_console(chromium: Any) -> Iterator[Callable[..., Console]]:
    """Open a console on a node and sign in with an API token; checks the page stayed clean."""
    opened: list[tuple[Any, Console]] = []

    def _open(node: ProcNode, *, role: str = "duty", lang: str = "en") -> Console:
        context = chromium.new_context(
            ignore_https_errors=True, viewport={"width": 1400, "height": 900}, locale=lang
        )
        page = context.new_page()
        page.set_default_timeout(10_000)
        console = Console(page, node)
        _watch(page, console.problems)
        page.on("request", lambda request: console.requests.append(request.url))
        opened.append((context, console))
        page.goto(f"{node.url}/")
        page.fill("#token", token_of(node, role))
        page.click("#token-submit")
        page.wait_for_selector("#nav-list a[data-screen=inbox]")
        page.wait_for_selector("#live[data-state=live]")
        return console

    yield _open
    problems = [p for _, c in opened for p in c.problems]
    for context, _ in opened:
        context.close()
    assert problems == [], "the console logged errors (CSP violations show up here too)"
