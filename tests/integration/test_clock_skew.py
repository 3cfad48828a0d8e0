"""Clock skew of ±10 minutes between two real nodes.

RU runs on a clock 10 minutes ahead of (or behind) US's, through the
``unsafe_clock_skew`` test hook of ``molink serve`` (``MOLINK_UNSAFE_CLOCK_SKEW_S``).

* Beyond the tolerance (default ``max_skew_s`` = 300): every federation request is
  refused with ``ClockSkewExceeded`` (RFC 9421 ``created`` outside the window), both
  ways. The senders keep every message, show "clock skew" as the reason, and nothing
  is stored at the receivers. Once RU's clock is right again, everything is
  delivered exactly once. What RU signed while it was 10 minutes ahead keeps its
  signed creation time: US refuses those envelopes one by one (``ClockSkewExceeded``,
  evidence attached) until real time catches up or US widens its tolerance; RU keeps
  them queued meanwhile.
* Within a configured tolerance (``max_skew_s`` = 900): traffic flows under the skew.

Both end with zero loss, zero duplicates and verified logs.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import httpx
import pytest

from molink.cli.serve import UNSAFE_CLOCK_SKEW_ENV
from tests.support.invariants import (
    Burst,
    Traffic,
    await_delivered,
    check_inboxes,
    check_offline,
    listing,
)
from tests.support.procnet import ProcNet, ProcNode, wait_until

pytestmark = pytest.mark.integration

TEN_MINUTES = 600


def _skewed_net(
    procnet: Callable[..., ProcNet], skews: dict[str, int], **delivery: float
) -> ProcNet:
    def wrap(node: ProcNode, cmd: list[str]) -> list[str]:
        if node.party in skews:
            return ["env", f"{UNSAFE_CLOCK_SKEW_ENV}={skews[node.party]}", *cmd]
        return cmd

    return procnet(
        ["US", "RU"],
        delivery={"request_timeout_s": 2.0, "backoff_cap_s": 2.0, **delivery},
        wrap=wrap,
    )


def _send_both_ways(net: ProcNet, traffic: Traffic, count: int, tag: str) -> dict[str, list[str]]:
    bursts = {
        "US": Burst(net["US"], "RU", count, f"{tag}-us").start(),
        "RU": Burst(net["RU"], "US", count, f"{tag}-ru").start(),
    }
    for burst in bursts.values():
        burst.join(traffic)
    return {party: burst.accepted for party, burst in bursts.items()}


def _why_pending(client: httpx.Client, ids: list[str]) -> list[str] | None:
    reasons = []
    for mid in ids:
        view = client.get(f"/api/v1/messages/{mid}").json()
        error = view["recipients"][0]["last_error"]
        if view["status"] != "sent" or not error:
            return None
        reasons.append(str(error))
    return reasons


@pytest.mark.parametrize("skew_s", [TEN_MINUTES, -TEN_MINUTES], ids=["ahead", "behind"])
def test_skew_beyond_tolerance_is_refused_clearly_then_nothing_is_lost(
    procnet: Callable[..., ProcNet], skew_s: int
) -> None:
    skews = {"RU": skew_s}
    net = _skewed_net(procnet, skews)
    net.start()
    assert "unsafe_clock_skew" in net["RU"].log_tail()
    traffic = Traffic()
    sent = _send_both_ways(net, traffic, 5, "skewed")
    for sender, ids in sent.items():
        client = net[sender].client()
        reasons = wait_until(
            partial(_why_pending, client, ids),
            timeout=60,
            what=f"{sender} shows why its messages wait",
        )
        assert all("clock skew" in r for r in reasons), reasons
    for party in ("US", "RU"):
        assert listing(net[party].client(), "inbox") == [], f"{party} stored skewed traffic"

    del skews["RU"]  # RU's clock is put right
    net.restart("RU")
    if skew_s > 0:
        # What RU signed while 10 minutes ahead stays 10 minutes in the future: US refuses
        # each such envelope (ClockSkewExceeded, with the JWS as evidence) until real time
        # catches up, and RU keeps it queued. US's operator may widen the tolerance.
        us_only = Traffic(accepted={("US", "RU"): traffic.accepted[("US", "RU")]})
        await_delivered(net, us_only, timeout=60)
        ru = net["RU"].client()

        def refused_one_by_one() -> list[str] | None:
            reasons = _why_pending(ru, sent["RU"])
            if reasons and all("clock-skew" in r and "ahead of" in r for r in reasons):
                return reasons
            return None

        wait_until(refused_one_by_one, timeout=60, what="RU shows US refuses each envelope")
        assert listing(net["US"].client(), "inbox") == []
        net.stop("US")
        _set_delivery(net, "US", max_skew_s=900)
        net.start("US")
    await_delivered(net, traffic, timeout=60)
    check_inboxes(net, traffic)
    net.stop("US")
    net.stop("RU")
    check_offline(net, traffic)


def _set_delivery(net: ProcNet, party: str, **changes: float) -> None:
    node = net[party]
    config = node.config
    delivery = config.delivery.model_copy(update=changes)
    config = config.model_copy(update={"delivery": delivery})
    (node.home / "node.toml").write_text(config.to_toml(), encoding="utf-8")


@pytest.mark.parametrize("skew_s", [TEN_MINUTES, -TEN_MINUTES], ids=["ahead", "behind"])
def test_skew_within_a_configured_tolerance_flows(
    procnet: Callable[..., ProcNet], skew_s: int
) -> None:
    net = _skewed_net(procnet, {"RU": skew_s}, max_skew_s=900)
    net.start()
    traffic = Traffic()
    _send_both_ways(net, traffic, 10, "tolerated")
    await_delivered(net, traffic, timeout=60)
    check_inboxes(net, traffic)
    net.stop("US")
    net.stop("RU")
    check_offline(net, traffic)
