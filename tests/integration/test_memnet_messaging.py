"""Message life end to end on an in-memory network (fake clock, real storage and crypto)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from molink.core.envelope import verify_signed
from molink.core.receipt import verify_receipt
from molink.transport.base import PeerTransport, Response
from tests.support.memnet import build_memnet, run


class _Refusing:
    """A peer that answers, but refuses every batch of envelopes with a 503."""

    def __init__(self, inner: PeerTransport) -> None:
        self.inner = inner
        self.refused = 0

    async def request(self, peer: Any, method: str, path: str, body: bytes, **kw: Any) -> Any:
        if path.endswith("/envelopes"):
            self.refused += 1
            problem = b'{"type":"about:blank","title":"Busy","status":503,"detail":"overloaded"}'
            return Response(status=503, body=problem)
        return await self.inner.request(peer, method, path, body, **kw)


def test_send_deliver_receipt_ack(tmp_path: Path) -> None:
    net = build_memnet(tmp_path, ["US", "RU"])

    async def scenario() -> None:
        async with net["US"].client() as us, net["RU"].client() as ru:
            r = await us.post(
                "/api/v1/messages",
                json={
                    "to": ["RU"],
                    "precedence": "FLASH",
                    "subject": "Test",
                    "body": "Hold fire",
                    "lang": "en",
                },
            )
            assert r.status_code == 201, r.text
            mid = r.json()["id"]
            assert r.json()["status"] == "queued"
            assert (await us.get(f"/api/v1/messages/{mid}")).json()["status"] == "queued"
            await net.settle()
            sent = (await us.get(f"/api/v1/messages/{mid}")).json()
            assert sent["status"] == "delivered"
            inbox = (await ru.get("/api/v1/messages?box=inbox")).json()["items"]
            assert [m["id"] for m in inbox] == [mid]
            assert inbox[0]["body"] == "Hold fire"
            jws = (await ru.get(f"/api/v1/messages/{mid}/jws")).text
            assert jws == (await us.get(f"/api/v1/messages/{mid}/jws")).text
            receipt = (await us.get(f"/api/v1/messages/{mid}/receipt")).text
            directory = net["US"].runtime.ctx.directory()
            signed = verify_signed(jws, directory)
            rec = verify_receipt(receipt, directory, message_id=mid, jws_sha256=signed.sha256)
            assert rec.recipient == "RU"
            ack = await ru.post(f"/api/v1/messages/{mid}/ack")
            assert ack.status_code == 200, ack.text
            assert ack.json()["status"] == "acknowledged"
            again = await ru.post(f"/api/v1/messages/{mid}/ack")
            assert again.status_code == 409
            await net.settle()
            final = (await us.get(f"/api/v1/messages/{mid}")).json()
            assert final["status"] == "acknowledged"
            assert final["recipients"][0]["acknowledged_by"] == "duty-RU"

    run(scenario())


def test_partition_then_heal_delivers_flash_first(tmp_path: Path) -> None:
    net = build_memnet(tmp_path, ["US", "RU"])
    net.network.partition("US", "RU")

    async def scenario() -> None:
        async with net["US"].client() as us, net["RU"].client() as ru:
            ids = []
            for prec in ["ROUTINE", "PRIORITY", "FLASH", "ROUTINE", "FLASH OVERRIDE"]:
                r = await us.post(
                    "/api/v1/messages",
                    json={"to": ["RU"], "precedence": prec, "subject": prec, "body": "x"},
                )
                ids.append(r.json()["id"])
            assert await net["US"].drain() == 0
            link = net["US"].runtime.outbox.links["RU"]
            assert link.state.status == "down"
            first_retry = link.state.retry_at_us
            net.advance(0.3)
            await net["US"].drain()
            assert link.state.retry_at_us > first_retry  # backed off
            queued = (await us.get(f"/api/v1/messages/{ids[0]}")).json()
            assert queued["status"] == "sent"
            assert "unreachable" in queued["recipients"][0]["last_error"]
            net.network.heal("US", "RU")
            assert await link.heartbeat() is True  # any answer resets the backoff
            assert link.state.failures == 0
            await net.settle()
            inbox = (await ru.get("/api/v1/messages?box=inbox&limit=10")).json()["items"]
            assert len(inbox) == 5
            stored = sorted(inbox, key=lambda m: m["log_index"])
            assert [m["precedence"] for m in stored][:2] == ["FLASH OVERRIDE", "FLASH"]

    run(scenario())


def test_a_refusing_peer_is_retried_with_exponential_backoff(tmp_path: Path) -> None:
    net = build_memnet(tmp_path, ["US", "RU"])

    async def scenario() -> None:
        async with net["US"].client() as us:
            sent = await us.post(
                "/api/v1/messages", json={"to": ["RU"], "subject": "s", "body": "b"}
            )
            mid = sent.json()["id"]
            net["US"].runtime.outbox.refresh_peers()
            link = net["US"].runtime.outbox.links["RU"]
            refusing = _Refusing(link.transport)
            link.transport = refusing  # type: ignore[assignment]
            delays = []
            for _ in range(5):
                assert await net["US"].drain() == 0
                delays.append(link.state.retry_at_us - net["US"].runtime.ctx.now_us())
                assert await link.heartbeat() is True  # it answers: the link is up ...
                assert link.state.status == "up"
                assert await net["US"].drain() == 0  # ... yet no retry before the backoff
                net.clock.advance(timedelta(microseconds=delays[-1]))
            assert refusing.refused == 5
            assert delays == sorted(delays)
            assert delays[-1] >= 8 * delays[0]  # doubling
            status = (await us.get(f"/api/v1/messages/{mid}")).json()
            assert "503" in status["recipients"][0]["last_error"]
            link.transport = refusing.inner  # the peer accepts again: delivered at once
            assert await net["US"].drain() == 1
            assert link.refusals == 0
            assert link.state.retry_at_us == 0

    run(scenario())


def test_duplicate_envelope_returns_stored_receipt(tmp_path: Path) -> None:
    net = build_memnet(tmp_path, ["US", "RU"])

    async def scenario() -> None:
        async with net["US"].client() as us:
            mid = (
                await us.post("/api/v1/messages", json={"to": ["RU"], "subject": "s", "body": "b"})
            ).json()["id"]
            await net.settle()
            ctx = net["US"].runtime.ctx
            with ctx.db.read() as conn:
                envelope = ctx.messages.get(conn, mid).envelope
            first = net["RU"].runtime.inbound.receive([envelope])
            second = net["RU"].runtime.inbound.receive([envelope])
            assert first[0].status == second[0].status == "duplicate"
            assert first[0].receipt == second[0].receipt
            inbox = net["RU"].runtime.queries.listing("inbox", 10, None)["items"]
            assert len(inbox) == 1

    run(scenario())


def test_a_batch_whose_sender_gave_up_is_not_stored(tmp_path: Path) -> None:
    """A request that timed out at the sender (the receiver was frozen) and is read only
    later is not stored: the sender resends it in precedence order with its backlog."""
    from molink.core.canonical import canonical_json
    from molink.core.httpsig import sign_request

    net = build_memnet(tmp_path, ["US", "RU"])
    us_rt, ru = net["US"].runtime, net["RU"]

    async def scenario() -> None:
        async with net["US"].client() as us:
            sent = await us.post("/api/v1/messages", json={"to": ["RU"], "body": "stale"})
            mid = sent.json()["id"]
        us_rt.outbox.refresh_peers()
        items = us_rt.outbox.links["RU"]._due(us_rt.ctx.now_us())
        body = canonical_json({"envelopes": [i.envelope for i in items]})
        headers = sign_request(
            us_rt.ctx.keys.sig_private,
            keyid=us_rt.ctx.keys.public.sig_kid,
            method="POST",
            path="/federation/v1/envelopes",
            body=body,
            now=us_rt.ctx.clock.now(),
        )
        raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        raw += [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        path = "/federation/v1/envelopes"
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "https",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": raw,
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 443),
        }
        pending = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> dict[str, Any]:  # the body, then the sender is gone
            return pending.pop(0) if pending else {"type": "http.disconnect"}

        async def send(_message: dict[str, Any]) -> None:
            return None

        await ru.app(scope, receive, send)
        async with ru.client() as client:
            assert (await client.get(f"/api/v1/messages/{mid}")).status_code == 404
        assert await net["US"].drain() == 1  # the resend is stored, once
        async with ru.client() as client:
            assert (await client.get(f"/api/v1/messages/{mid}")).status_code == 200

    run(scenario())
