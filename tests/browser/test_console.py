"""The console in Chromium against real nodes: sign-in, languages, keyboard, coded
compose, every screen under the strict CSP, and conflicts on the map."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
import pytest

from tests.browser.conftest import Console, api, openapi_paths, token_of
from tests.support.procnet import ProcNet, wait_until

pytestmark = pytest.mark.browser

DTG = re.compile(r"^\d{6}Z(JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)\d{2}$")


def _direct_channel(net: ProcNet) -> str:
    """The implicit US-RU channel, made on both nodes by one routine message."""
    with api(net["US"]) as us:
        sent = us.post(
            "/api/v1/messages",
            json={"to": ["RU"], "subject": "Line check", "body": "Routine line check."},
        )
        assert sent.status_code == 201, sent.text
    with api(net["RU"]) as ru:
        wait_until(
            lambda: ru.get(f"/api/v1/messages/{sent.json()['id']}").status_code == 200,
            timeout=20,
            what="the routine message reaches RU",
        )
    channel: str = sent.json()["channel"]
    return channel


def test_token_sign_in_shows_the_frame(net: ProcNet, open_console: Callable[..., Console]) -> None:
    us = open_console(net["US"])
    page = us.page
    assert page.inner_text("#party") == "US node"
    assert DTG.match(page.inner_text("#clock-dtg"))
    assert page.inner_text("#clock-utc").endswith("Z")
    assert page.get_attribute("#nav-list a[data-screen=inbox]", "aria-current") == "page"
    assert page.locator("#main h1").inner_text() == "Inbox"


def test_operator_sign_in_from_an_enrolled_terminal(net: ProcNet, chromium: Any) -> None:
    node = net["US"]
    if "/api/v1/session/challenge" not in openapi_paths(node):
        pytest.skip("operator sign-in (POST /api/v1/session) is not on the node")
    context = chromium.new_context(ignore_https_errors=True)
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.goto(f"{node.url}/")
        page.click("details.enrol summary")
        page.fill("#enrol-unit", "Watch-1")
        page.fill("#enrol-label", "Watch desk 1")
        page.click("details.enrol button[type=submit]")
        page.wait_for_selector("#enrol-status .notice")
        terminal = page.inner_text("#terminal-id")
        fingerprint = page.inner_text("#terminal-fp")
        assert fingerprint in page.inner_text("#enrol-status")
        with api(node, "admin") as admin:
            listed = admin.get(f"/api/v1/terminals/{terminal}").json()
            assert listed["fingerprint"] == fingerprint
            assert admin.post(f"/api/v1/terminals/{terminal}/approve").status_code == 200
            added = admin.post(
                "/api/v1/operators",
                json={"id": "watch-us", "role": "duty_officer", "password": "a long passphrase 1"},
            )
            assert added.status_code == 201, added.text
        page.fill("#operator", "watch-us")
        page.fill("#password", "a long passphrase 1")
        page.fill("#totp", pyotp.TOTP(added.json()["totp_secret"]).now())
        page.click("#operator-form button[type=submit]")
        page.wait_for_selector("#nav-list a[data-screen=inbox]")
        assert "watch-us" in page.inner_text("#who")
        assert "duty officer" in page.inner_text("#who")
        token = page.evaluate("JSON.parse(sessionStorage.getItem('molink.session')).token")
        page.click("#signout")
        page.wait_for_selector("#token")
        with node.client() as client:
            answer = client.get("/api/v1/status", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 401, "signing out must end the session on the node"
    finally:
        context.close()


def test_interface_languages_and_utc_dates(
    net: ProcNet, open_console: Callable[..., Console]
) -> None:
    ru = open_console(net["RU"], lang="ru-RU")
    page = ru.page
    assert page.inner_text("#nav-list a[data-screen=inbox] .nav-label") == "Входящие"
    assert page.get_attribute("html", "lang") == "ru"
    page.select_option("#lang-select", "uk")
    page.wait_for_function("() => document.documentElement.lang === 'uk'")
    assert page.inner_text("#nav-list a[data-screen=outbox] .nav-label") == "Вихідні"
    assert page.locator("#main h1").inner_text() == "Вхідні"
    page.select_option("#lang-select", "en")
    page.wait_for_function("() => document.documentElement.lang === 'en'")
    assert page.inner_text("#nav-list a[data-screen=map] .nav-label") == "Map"
    assert DTG.match(page.inner_text("#clock-dtg"))


def test_keyboard_shortcuts(net: ProcNet, open_console: Callable[..., Console]) -> None:
    us = open_console(net["US"])
    page = us.page
    page.locator("#main h1").focus()
    page.keyboard.press("c")
    page.wait_for_selector("#main[data-screen=compose]")
    page.keyboard.press("g")
    page.keyboard.press("o")
    page.wait_for_selector("#main[data-screen=outbox]")
    page.keyboard.press("/")
    page.wait_for_function("() => document.activeElement?.id === 'search'")
    page.keyboard.press("Escape")
    page.keyboard.press("?")
    page.wait_for_selector("#help[open]")
    page.keyboard.press("Escape")
    page.keyboard.press("g")
    page.keyboard.press("s")
    page.wait_for_selector("#main[data-screen=status]")


def test_a_slow_screen_left_behind_does_not_overwrite_the_next(
    net: ProcNet, open_console: Callable[..., Console]
) -> None:
    """Compose's data is held back while the officer moves on to the outbox; when it
    arrives, the outbox must stay on screen with its search field still focused."""
    us = open_console(net["US"])
    page = us.page
    held: list[Any] = []
    # A lambda, not held.append: Playwright inspects the handler's signature.
    page.route("**/api/v1/channels", lambda route: held.append(route))  # noqa: PLW0108
    us.goto("compose")
    for _ in range(200):  # Playwright runs the route handler only inside its own calls
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "compose did not ask for the channels"
    us.goto("outbox")
    page.keyboard.press("/")
    page.wait_for_function("() => document.activeElement?.id === 'search'")
    for route in held:
        route.continue_()
    page.unroute("**/api/v1/channels")
    page.wait_for_timeout(300)  # let the late compose render run to its end
    assert page.get_attribute("#main", "data-screen") == "outbox"
    assert page.locator("#main #compose").count() == 0
    assert page.locator("#main #search").count() == 1
    assert page.evaluate("() => document.activeElement?.id") == "search"


def _agree_catalogue(net: ProcNet, channel: str) -> None:
    for party in ("US", "RU"):
        with api(net[party], "supervisor") as client:
            answer = client.post(f"/api/v1/channels/{channel}/catalogue/agree")
            assert answer.status_code == 200, answer.text
    with api(net["US"]) as client:
        wait_until(
            lambda: client.get(f"/api/v1/channels/{channel}/catalogue").json()["in_force"],
            timeout=20,
            what="both agreements reach US",
        )


def test_compose_a_coded_message(net: ProcNet, open_console: Callable[..., Console]) -> None:
    channel = _direct_channel(net)
    _agree_catalogue(net, channel)
    us = open_console(net["US"])
    page = us.page
    us.goto("compose")
    page.check("input[name=mode][value=coded]")
    page.select_option("#channel", channel)
    page.wait_for_selector("#catalogue-status .notice-ok")
    assert page.is_checked("input[name=to][value=RU]")
    page.select_option("#code", "LINETEST")
    page.fill("#param-serial", "42")
    assert "Scheduled line test number 42" in page.inner_text("#preview")
    assert "Плановая проверка линии номер 42" in page.inner_text("#preview")
    page.click("#send")
    page.wait_for_selector("#main[data-screen=message]")
    message_id = page.evaluate("decodeURIComponent(location.hash.split('/')[2])")
    assert "LINETEST" in page.locator("#message-subject").inner_text()
    with api(net["RU"]) as ru:
        wait_until(
            lambda: ru.get(f"/api/v1/messages/{message_id}").status_code == 200,
            timeout=20,
            what="the coded message reaches RU",
        )
        view = ru.get(f"/api/v1/messages/{message_id}").json()
    assert view["code"] == "LINETEST"
    assert view["params"]["serial"] == "42"
    assert "42" in view["rendered"]["uk"]


def test_every_screen_renders_under_the_strict_policy(
    net: ProcNet, open_console: Callable[..., Console]
) -> None:
    us = open_console(net["US"])
    page = us.page
    channel = _direct_channel(net)
    us.goto(f"channel/{channel}")
    page.wait_for_selector("#panel-chan-history")
    us.goto("status")
    page.locator("#panel-status-links tbody th").filter(has_text="RU").wait_for()
    us.goto("log")
    page.wait_for_function("() => document.querySelector('#panel-log-checkpoint pre')?.textContent")
    assert page.inner_text("#panel-log-checkpoint pre").startswith("molink.local/US/")
    for screen in ("outbox", "channels", "incidents", "ledger", "evidence"):
        us.goto(screen)
        page.wait_for_selector("#main h1")
    us.goto("map")
    page.wait_for_function("() => document.querySelectorAll('path.map-land').length > 40")
    assert page.locator(".leaflet-tile").count() == 0, "no tile server: the basemap is offline"


def _volume(party_to: str, start: datetime, title: str) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [32.0, 44.5]},
        "properties": {
            "kind": "airspace_reservation",
            "title": title,
            "start": start.isoformat().replace("+00:00", "Z"),
            "end": (start + timedelta(hours=2)).isoformat().replace("+00:00", "Z"),
            "lower_m": 0,
            "upper_m": 6000,
            "radius_m": 20_000,
            "to": [party_to],
        },
    }


def test_a_conflict_appears_on_the_map(net: ProcNet, open_console: Callable[..., Console]) -> None:
    paths = openapi_paths(net["US"])
    if "post" not in paths.get("/api/v1/notifications", {}):
        pytest.skip("the deconfliction API (POST /api/v1/notifications) is not on the node yet")
    us = open_console(net["US"])
    us.goto("map")
    start = datetime.now(UTC) + timedelta(hours=1)
    with api(net["US"]) as client:
        first = client.post("/api/v1/notifications", json=_volume("RU", start, "US patrol"))
        assert first.status_code == 201, first.text
    with api(net["RU"]) as client:
        second = client.post("/api/v1/notifications", json=_volume("US", start, "RU exercise"))
        assert second.status_code == 201, second.text
    us.page.wait_for_function(
        "() => Number(document.querySelector('#map')?.dataset.conflicts || 0) > 0", timeout=20_000
    )
    assert us.page.locator("path.map-conflict").count() > 0
    assert us.page.locator("#map-list .map-item-conflicts").count() > 0


def test_the_token_is_not_in_any_url(net: ProcNet, open_console: Callable[..., Console]) -> None:
    us = open_console(net["US"])
    us.goto("status")
    us.page.wait_for_selector("#panel-status-links tbody tr")
    assert any(url.endswith("/api/v1/events") for url in us.requests), us.requests
    token = token_of(net["US"])
    assert all(token not in url for url in us.requests)


def test_evidence_export_downloads_a_bundle(
    net: ProcNet, open_console: Callable[..., Console]
) -> None:
    if "/api/v1/evidence/export" not in openapi_paths(net["US"]):
        pytest.skip("evidence export (POST /api/v1/evidence/export) is not on the node")
    _direct_channel(net)  # at least one message in the outbox
    with api(net["US"]) as client:
        outbox = client.get("/api/v1/messages", params={"box": "outbox", "limit": 1}).json()
    message_id = outbox["items"][0]["id"]
    us = open_console(net["US"])
    us.goto(f"evidence?ids={message_id}")
    assert us.page.input_value("#ev-ids") == message_id
    with us.page.expect_download() as download:
        us.page.click("#evidence-export")
    path = download.value.path()
    assert download.value.suggested_filename.endswith(".zip")
    with zipfile.ZipFile(path) as bundle:
        assert "manifest.json" in bundle.namelist()
    us.page.wait_for_selector("#evidence-status .notice-ok")
