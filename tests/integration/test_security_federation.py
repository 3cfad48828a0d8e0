"""Attacks on the federation endpoint, through the real app: each refused with a clear error.

The attacker here is the other party, a relay, or anyone on the network path. Every
case posts to RU's ``POST /federation/v1/envelopes`` exactly as a peer would (an
RFC 9421-signed request over the app), then checks what RU answered and that RU
stored nothing. See docs/threat-model.md for which threat each test backs.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from molink.core.canonical import canonical_json
from molink.core.envelope import sign_and_seal, sign_object
from molink.core.httpsig import sign_request
from molink.core.ids import uuid7
from molink.core.jose import JweRecipientKey, jwe_seal
from molink.core.keys import PartyKeys
from molink.core.message import message_fields
from molink.core.precedence import Precedence
from molink.services.channels import direct_channel_id
from tests.support.memnet import MemNet, build_memnet, run

PATH = "/federation/v1/envelopes"


def _keys(net: MemNet, party: str) -> PartyKeys:
    return net[party].runtime.ctx.keys


def _envelope(
    net: MemNet,
    *,
    signer: PartyKeys | None = None,
    mid: str | None = None,
    body: str = "hold fire",
    precedence: Precedence = Precedence.FLASH,
) -> tuple[str, dict[str, Any]]:
    """A message from US to RU: (id, sealed envelope). ``signer`` forges the signature."""
    us = net["US"].runtime.ctx
    now = us.clock.now()
    mid = mid or uuid7(now, us.random(10))
    _, envelope = sign_and_seal(
        signer or us.keys,
        us.directory(),
        type="message",
        id=mid,
        to=["RU"],
        channel=direct_channel_id(["US", "RU"]),
        seq=1,
        created=now,
        precedence=precedence,
        fields=message_fields(subject="test", body=body, lang="en"),
    )
    return mid, envelope


def _signed_headers(net: MemNet, body: bytes, keys: PartyKeys | None = None) -> dict[str, str]:
    keys = keys or _keys(net, "US")
    headers = sign_request(
        keys.sig_private,
        keyid=keys.public.sig_kid,
        method="POST",
        path=PATH,
        body=body,
        now=net.clock.now(),
    )
    return {**headers, "Content-Type": "application/json"}


async def _post(
    net: MemNet,
    body: bytes,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    transport = httpx.ASGITransport(app=net["RU"].app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ru") as client:
        return await client.post(
            PATH, content=body, headers=dict(headers or _signed_headers(net, body))
        )


async def _post_envelopes(net: MemNet, envelopes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    answer = await _post(net, canonical_json({"envelopes": envelopes}))
    assert answer.status_code == 200, answer.text
    results: list[dict[str, Any]] = answer.json()["results"]
    return results


def _stored_at_ru(net: MemNet, mid: str) -> bool:
    with net["RU"].runtime.ctx.db.read() as conn:
        return net["RU"].runtime.ctx.messages.find(conn, mid) is not None


def _log_size(net: MemNet, party: str) -> int:
    with net[party].runtime.ctx.db.read() as conn:
        return int(net[party].runtime.ctx.log.size(conn))


def _refused(net: MemNet, result: dict[str, Any], code: str, mid: str | None) -> None:
    assert result["status"] == "rejected", result
    assert result["error"]["type"] == code, result
    assert result["error"]["detail"], "the refusal says why"
    if mid is not None:
        assert not _stored_at_ru(net, mid)


def test_forged_signature_is_refused(tmp_path: Path) -> None:
    net = build_memnet(tmp_path, ["US", "RU"])
    impostor = PartyKeys.generate("US")  # claims to be US, holds another key
    mid, envelope = _envelope(net, signer=impostor)
    before = _log_size(net, "RU")
    (result,) = run(_post_envelopes(net, [envelope]))
    _refused(net, result, "bad-signature", mid)
    assert _log_size(net, "RU") == before


def test_signed_with_another_partys_key_is_refused(tmp_path: Path) -> None:
    net = build_memnet(tmp_path, ["US", "RU", "UA"])
    us = net["US"].runtime.ctx
    now = us.clock.now()
    mid = uuid7(now, us.random(10))
    # UA signs a payload that says it is from US, with UA's own pinned key.
    ua = _keys(net, "UA")
    payload_fields = message_fields(subject="s", body="b", lang="en")
    jws = sign_object(
        ua, type="message", id=mid, to=["RU"], channel=direct_channel_id(["UA", "RU"]),
        seq=1, created=now, precedence=Precedence.FLASH, fields=payload_fields,
    )  # fmt: skip
    header, payload, sig = jws.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["from"] = "US"
    forged_payload = base64.urlsafe_b64encode(canonical_json(claims)).rstrip(b"=").decode()
    forged = f"{header}.{forged_payload}.{sig}"
    routing = {k: claims[k] for k in ("id", "from", "to", "channel", "precedence", "type")}
    ru = us.directory().current("RU")
    envelope = jwe_seal(
        forged.encode("ascii"),
        [JweRecipientKey(kid=ru.enc_kid, public=ru.enc_public)],
        aad=canonical_json(routing),
    )
    (result,) = run(_post_envelopes(net, [envelope]))
    _refused(net, result, "bad-signature", mid)


def test_replayed_envelope_is_stored_once_and_answered_with_the_same_receipt(
    tmp_path: Path,
) -> None:
    net = build_memnet(tmp_path, ["US", "RU"])
    mid, envelope = _envelope(net)
    (first,) = run(_post_envelopes(net, [envelope]))
    assert first["status"] == "stored"
    assert first["id"] == mid
    size = _log_size(net, "RU")
    (second,) = run(_post_envelopes(net, [envelope]))
    assert second["status"] == "duplicate"
    assert second["receipt"] == first["receipt"]
    assert _log_size(net, "RU") == size, "a replay is not logged again"


def test_same_id_with_other_content_is_a_replay_with_evidence(tmp_path: Path) -> None:
    net = build_memnet(tmp_path, ["US", "RU"])
    mid, envelope = _envelope(net, body="first")
    (first,) = run(_post_envelopes(net, [envelope]))
    assert first["status"] == "stored"
    _, other = _envelope(net, mid=mid, body="second, different")
    (result,) = run(_post_envelopes(net, [other]))
    assert result["status"] == "rejected"
    assert result["error"]["type"] == "replay"
    with net["RU"].runtime.ctx.db.read() as conn:
        stored = net["RU"].runtime.ctx.messages.get(conn, mid)
    assert stored.body == "first", "the first content stays authoritative"


def test_same_content_under_a_new_id_is_a_new_message(tmp_path: Path) -> None:
    """Only the sender can sign a new id; the receiver sees two messages (threat model)."""
    net = build_memnet(tmp_path, ["US", "RU"])
    one, first = _envelope(net, body="same words")
    two, second = _envelope(net, body="same words")
    results = run(_post_envelopes(net, [first, second]))
    assert [r["status"] for r in results] == ["stored", "stored"]
    assert results[0]["receipt"] != results[1]["receipt"]
    assert _stored_at_ru(net, one)
    assert _stored_at_ru(net, two)


def _flip(text: str, position: int) -> str:
    raw = bytearray(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    raw[position % len(raw)] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


def test_tampered_ciphertext_tag_and_iv_are_refused(tmp_path: Path) -> None:
    net = build_memnet(tmp_path, ["US", "RU"])
    envelopes, ids = [], []
    for member in ("ciphertext", "tag", "iv"):
        mid, envelope = _envelope(net)
        envelope[member] = _flip(envelope[member], 3)
        envelopes.append(envelope)
        ids.append(mid)
    for mid, result in zip(ids, run(_post_envelopes(net, envelopes)), strict=True):
        _refused(net, result, "decryption-failed", mid)


def test_routing_header_that_disagrees_with_the_signed_content_is_refused(
    tmp_path: Path,
) -> None:
    net = build_memnet(tmp_path, ["US", "RU"])
    us = net["US"].runtime.ctx
    mid, envelope = _envelope(net, precedence=Precedence.ROUTINE)
    # A relay re-seals nothing (it cannot): a sender that lies in the plain header must
    # seal again with the lie as AAD. Rebuild with an upgraded precedence in the header.
    jws = sign_object(
        us.keys, type="message", id=mid, to=["RU"], channel=direct_channel_id(["US", "RU"]),
        seq=1, created=us.clock.now(), precedence=Precedence.ROUTINE,
        fields=message_fields(subject="test", body="hold fire", lang="en"),
    )  # fmt: skip
    routing = {
        "id": mid, "from": "US", "to": ["RU"], "channel": direct_channel_id(["US", "RU"]),
        "precedence": "FLASH OVERRIDE", "type": "message",
    }  # fmt: skip
    ru = us.directory().current("RU")
    lying = jwe_seal(
        jws.encode("ascii"),
        [JweRecipientKey(kid=ru.enc_kid, public=ru.enc_public)],
        aad=canonical_json(routing),
    )
    (result,) = run(_post_envelopes(net, [lying]))
    _refused(net, result, "routing-mismatch", mid)
    # and a relay that edits the header of an honest envelope breaks the AEAD instead
    envelope["aad"] = base64.urlsafe_b64encode(canonical_json(routing)).rstrip(b"=").decode()
    (edited,) = run(_post_envelopes(net, [envelope]))
    _refused(net, edited, "decryption-failed", mid)


def test_envelope_for_another_party_is_refused(tmp_path: Path) -> None:
    net = build_memnet(tmp_path, ["US", "RU", "UA"])
    us = net["US"].runtime.ctx
    mid = uuid7(us.clock.now(), us.random(10))
    _, envelope = sign_and_seal(
        us.keys, us.directory(), type="message", id=mid, to=["UA"],
        channel=direct_channel_id(["US", "UA"]), seq=1, created=us.clock.now(),
        precedence=Precedence.FLASH, fields=message_fields(subject="s", body="b", lang="en"),
    )  # fmt: skip
    (result,) = run(_post_envelopes(net, [envelope]))
    _refused(net, result, "wrong-recipient", mid)


# -- the HTTP layer: RFC 9421 signatures, sizes, syntax ----------------------------------


async def _raw_asgi(app: Any, headers: list[tuple[bytes, bytes]], body: bytes) -> tuple[int, bool]:
    """Call the app directly; returns (status, whether the app asked for the body)."""
    asked = False
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal asked
        asked = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": PATH, "raw_path": PATH.encode(), "query_string": b"",
        "root_path": "", "headers": headers, "client": ("127.0.0.1", 40000),
        "server": ("ru", 80),
    }  # fmt: skip
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    return int(start["status"]), asked


def test_unknown_peer_is_refused_with_401_before_the_body_is_read(tmp_path: Path) -> None:
    net = build_memnet(tmp_path, ["US", "RU"])
    stranger = PartyKeys.generate("XX")
    body = canonical_json({"envelopes": []})
    headers = _signed_headers(net, body, stranger)
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    raw.append((b"content-length", str(len(body)).encode()))
    status, asked = run(_raw_asgi(net["RU"].app, raw, body))
    assert status == 401
    assert not asked, "the body of an unknown peer was read"
    answer = run(_post(net, body, headers))
    assert answer.status_code == 401
    assert answer.json()["type"].endswith("/unknown-peer")
    assert "no pinned peer" in answer.json()["detail"]


def test_http_signature_problems_are_refused(tmp_path: Path) -> None:
    net = build_memnet(tmp_path, ["US", "RU"])
    mid, envelope = _envelope(net)
    body = canonical_json({"envelopes": [envelope]})
    good = _signed_headers(net, body)
    before = _log_size(net, "RU")
    cases = {
        "unsigned": ({"Content-Type": "application/json"}, body, "malformed"),
        "body changed after signing": (good, body + b" ", "bad-signature"),
        "signature of another body": (
            {**good, "Content-Digest": _signed_headers(net, b"{}")["Content-Digest"]},
            body,
            "bad-signature",
        ),
        "signed by an impostor under US's keyid": (
            {
                **_signed_headers(net, body, PartyKeys.generate("US")),
                "Signature-Input": good["Signature-Input"],
            },
            body,
            "bad-signature",
        ),
    }
    for name, (headers, content, code) in cases.items():
        answer = run(_post(net, content, headers))
        assert answer.status_code in (400, 401), (name, answer.status_code, answer.text)
        problem = answer.json()
        assert problem["type"].endswith("/" + code), (name, problem)
        assert problem["detail"], name
    assert _log_size(net, "RU") == before
    assert not _stored_at_ru(net, mid)


def test_malformed_federation_bodies_are_400_and_store_nothing(tmp_path: Path) -> None:
    net = build_memnet(tmp_path, ["US", "RU"])
    before = _log_size(net, "RU")
    bodies = [
        b"",
        b"not json",
        b'{"envelopes": ',
        b"[]",
        b'{"envelopes": {}}',
        b'{"envelopes": [1, 2]}',
        b'{"envelopes": [], "envelopes": []}',
        b'{"envelopes": [{"aad": "!!!"}]}',
        "\ud800".encode("utf-8", "surrogatepass"),
        b'{"envelopes": [{"protected": "e30", "aad": "e30", "recipients": []}]}',
    ]
    for body in bodies:
        answer = run(_post(net, body))
        assert answer.status_code in (200, 400, 422), (body, answer.status_code, answer.text)
        if answer.status_code == 200:
            assert all(r["status"] == "rejected" for r in answer.json()["results"]), body
        else:
            assert answer.headers["content-type"].startswith("application/problem+json")
    assert _log_size(net, "RU") == before


def test_oversized_federation_body_is_413_and_stores_nothing(tmp_path: Path) -> None:
    net = build_memnet(tmp_path, ["US", "RU"])
    limit = net["RU"].runtime.max_body_bytes
    before = _log_size(net, "RU")
    mid, envelope = _envelope(net)
    envelope["padding"] = "x" * limit
    body = canonical_json({"envelopes": [envelope]})
    answer = run(_post(net, body))
    assert answer.status_code == 413
    assert answer.json()["title"] == "OversizedInput"
    assert "nothing was stored" in answer.json()["detail"]
    assert _log_size(net, "RU") == before
    assert not _stored_at_ru(net, mid)
