"""The FLASH alarm: it comes up without a reload, cannot be dismissed, is acknowledged
(the sender's console sees it) or deferred with a reason."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.browser.conftest import Console, api
from tests.support.procnet import ProcNet, wait_until

pytestmark = pytest.mark.browser

FLASH = {
    "to": ["RU"],
    "precedence": "FLASH",
    "subject": "Aircraft in distress",
    "body": "Aircraft in distress in area Black Sea 44.5N 32.0E. Request you hold fire.",
    "lang": "en",
}


def _send_flash(net: ProcNet, subject: str) -> str:
    with api(net["US"]) as us:
        answer = us.post("/api/v1/messages", json={**FLASH, "subject": subject})
        assert answer.status_code == 201, answer.text
        message_id: str = answer.json()["id"]
    return message_id


def _arrived(net: ProcNet, message_id: str) -> float:
    """Wait until RU stored the message; returns the monotonic time it was seen."""
    with api(net["RU"]) as ru:
        wait_until(
            lambda: ru.get(f"/api/v1/messages/{message_id}").status_code == 200,
            timeout=20,
            what="the FLASH reaches RU",
        )
    return time.monotonic()


def test_flash_raises_the_alarm_without_reload_and_the_ack_reaches_the_sender(
    net: ProcNet, open_console: Callable[..., Console]
) -> None:
    ru = open_console(net["RU"])
    us = open_console(net["US"])
    us.goto("outbox")
    ru_loads = ru.page.evaluate("performance.getEntriesByType('navigation').length")
    alarm = ru.page.locator("#alarm")
    assert alarm.is_hidden()

    message_id = _send_flash(net, "Aircraft in distress (ack)")
    _arrived(net, message_id)
    # Live update: within one second of arrival (SSE), with no reload of the page.
    alarm.wait_for(state="visible", timeout=1000)
    assert alarm.get_attribute("data-id") == message_id
    assert ru.page.evaluate("performance.getEntriesByType('navigation').length") == ru_loads
    assert "FLASH" in ru.page.inner_text("#alarm-title")
    assert "Aircraft in distress (ack)" in alarm.inner_text()
    assert alarm.get_attribute("role") == "alertdialog"
    assert alarm.get_attribute("data-sound") == "on", "the WebAudio siren is not sounding"
    assert ru.page.evaluate("document.querySelector('#app').inert") is True

    # It cannot be dismissed: Escape and clicks elsewhere leave it up.
    ru.page.keyboard.press("Escape")
    ru.page.mouse.click(5, 5)
    assert alarm.is_visible()
    assert "cannot be dismissed" in ru.page.inner_text("#announcer")

    row = us.page.locator(f"tr[data-id='{message_id}']")
    row.wait_for()
    assert "acknowledged" not in row.inner_text()

    ru.page.keyboard.press("a")  # the acknowledge shortcut
    alarm.wait_for(state="hidden")
    assert alarm.get_attribute("data-sound") == "off"
    # The sender's console shows the acknowledgement without a reload.
    us.page.wait_for_function(
        "id => document.querySelector(`tr[data-id='${id}'] .st-acknowledged`) !== null",
        arg=message_id,
        timeout=10_000,
    )
    with api(net["US"]) as client:
        view = client.get(f"/api/v1/messages/{message_id}").json()
    assert view["status"] == "acknowledged"
    assert view["recipients"][0]["acknowledged_by"]


def test_deferring_needs_a_reason_and_is_shown_on_the_message(
    net: ProcNet, open_console: Callable[..., Console]
) -> None:
    ru = open_console(net["RU"])
    message_id = _send_flash(net, "Aircraft in distress (defer)")
    _arrived(net, message_id)
    alarm = ru.page.locator("#alarm")
    alarm.wait_for(state="visible", timeout=1000)
    page: Any = ru.page

    page.keyboard.press("d")
    page.locator("#alarm-reason").wait_for()
    page.click("#alarm-defer-confirm")  # no reason yet
    assert alarm.is_visible()
    assert "reason" in page.inner_text("#alarm-defer-error").lower()

    page.fill("#alarm-reason", "Commander on the phone with the other side")
    page.select_option("#alarm-minutes", "2")
    page.click("#alarm-defer-confirm")
    alarm.wait_for(state="hidden")
    assert "deferred" in page.inner_text("#announcer").lower()

    ru.goto(f"message/{message_id}")
    note = page.locator("#main .notice", has_text="Commander on the phone")
    note.wait_for()
    with api(net["RU"]) as client:
        assert client.get(f"/api/v1/messages/{message_id}").json()["status"] != "acknowledged"
    # Acknowledging from the reading screen ends it for good.
    page.click("#ack")
    page.wait_for_selector("#main .st-acknowledged")
