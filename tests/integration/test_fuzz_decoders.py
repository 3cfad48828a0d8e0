"""Hypothesis fuzzing of the federation decoder and the log parsers.

Inputs are mutations of VALID objects (a sealed envelope, a signed checkpoint, an
add-checkpoint request, an entry bundle): byte flips, insertions, deletions and
truncations, plus arbitrary JSON in place of any envelope member. Random bytes alone
rarely get past the first check; mutated valid inputs reach every later one.

Properties:
* the pure parsers raise only ``MolinkError`` subclasses (never ``ValueError``,
  ``KeyError``, ``binascii.Error``...);
* the HTTP endpoints (``POST /federation/v1/envelopes``,
  ``POST /federation/v1/witness/add-checkpoint``, ``GET /log/tile/...``), given
  correctly signed requests with fuzzed bodies, never answer 5xx, and every
  envelope result is ``stored``, ``duplicate`` or ``rejected`` with a known code.

``FUZZ_EXAMPLES`` per property in the default suite; the slow suite runs many more.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from molink import errors
from molink.core.canonical import canonical_json, parse_json
from molink.core.checkpoint import open_checkpoint
from molink.core.envelope import open_envelope, sign_and_seal
from molink.core.httpsig import sign_request
from molink.core.ids import uuid7
from molink.core.message import message_fields
from molink.core.note import parse_note
from molink.core.precedence import Precedence
from molink.core.tiles import decode_entry_bundle, encode_entry_bundle, parse_tile_path
from molink.core.witness import format_add_checkpoint, parse_add_checkpoint
from molink.services.channels import direct_channel_id
from tests.support.memnet import MemNet, build_memnet, run

FUZZ_EXAMPLES = 60
SLOW_EXAMPLES = 1500
CODES = {
    cls.code
    for cls in vars(errors).values()
    if isinstance(cls, type) and issubclass(cls, errors.MolinkError)
}


@dataclass
class Fixture:
    net: MemNet
    envelope: dict[str, Any]
    checkpoint: str
    add_checkpoint: bytes
    bundle: bytes


@pytest.fixture(scope="module")
def fx(tmp_path_factory: pytest.TempPathFactory) -> Fixture:
    net = build_memnet(tmp_path_factory.mktemp("fuzz"), ["US", "RU"])
    us = net["US"].runtime.ctx
    _, envelope = sign_and_seal(
        us.keys, us.directory(), type="message", id=uuid7(us.clock.now(), us.random(10)),
        to=["RU"], channel=direct_channel_id(["US", "RU"]), seq=1, created=us.clock.now(),
        precedence=Precedence.FLASH, fields=message_fields(subject="s", body="b", lang="en"),
    )  # fmt: skip
    net["US"].runtime.log.integrate()
    checkpoint = net["US"].runtime.log.checkpoint_note()
    return Fixture(
        net=net,
        envelope=envelope,
        checkpoint=checkpoint,
        add_checkpoint=format_add_checkpoint(0, [], checkpoint),
        bundle=encode_entry_bundle([b"one", b"two", b"three" * 40]),
    )


def _apply(data: bytes, edits: list[tuple[str, int, bytes]]) -> bytes:
    out = bytearray(data)
    for kind, where, chunk in edits:
        at = where % (len(out) + 1)
        if kind == "flip" and out:
            out[at % len(out)] ^= chunk[0] or 1
        elif kind == "insert":
            out[at:at] = chunk
        elif kind == "delete":
            del out[at : at + len(chunk)]
        elif kind == "truncate":
            del out[at:]
    return bytes(out)


def mutations(data: bytes) -> st.SearchStrategy[bytes]:
    edit = st.tuples(
        st.sampled_from(["flip", "insert", "delete", "truncate"]),
        st.integers(0, max(0, len(data))),
        st.binary(min_size=1, max_size=8),
    )
    return st.lists(edit, min_size=1, max_size=4).map(lambda edits: _apply(data, edits))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _enc(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@st.composite
def mutated_envelopes(draw: st.DrawFn, valid: dict[str, Any]) -> Any:
    """A valid envelope with one member replaced, its bytes mutated, or the whole JSON."""
    how = draw(st.sampled_from(["member-json", "member-bytes", "whole", "drop", "recipient"]))
    envelope = dict(valid)
    member = draw(st.sampled_from(sorted(valid)))
    if how == "member-json":
        envelope[member] = draw(json_values)
    elif how == "member-bytes" and isinstance(valid[member], str):
        envelope[member] = _enc(draw(mutations(_b64(valid[member]))))
    elif how == "drop":
        envelope.pop(member)
    elif how == "recipient":
        recipients = [dict(r) for r in valid.get("recipients", [])]
        if recipients:
            recipients[0]["header"] = draw(json_values)
        envelope["recipients"] = recipients
    else:
        try:
            return parse_json(draw(mutations(canonical_json(valid))))
        except errors.MolinkError:
            return draw(json_values)
    return envelope


def _examples(n: int) -> Callable[[Any], Any]:
    return settings(
        max_examples=n,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


# -- pure decoders and parsers: only MolinkError -----------------------------------------


def _only_molink_errors(call: Callable[[], object]) -> None:
    with contextlib.suppress(errors.MolinkError):
        call()


def _open(fx: Fixture, envelope: Any) -> None:
    ru = fx.net["RU"].runtime.ctx
    open_envelope(
        envelope, me=ru.keys, directory=ru.directory(), now=ru.clock.now(),
        max_skew=timedelta(minutes=5),
    )  # fmt: skip


@st.composite
def log_inputs(draw: st.DrawFn, fx: Fixture) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(["note", "checkpoint", "add-checkpoint", "bundle", "tile"]))
    source = {
        "note": fx.checkpoint.encode(),
        "checkpoint": fx.checkpoint.encode(),
        "add-checkpoint": fx.add_checkpoint,
        "bundle": fx.bundle,
        "tile": b"tile/0/x001/234.p/17",
    }[kind]
    return kind, draw(mutations(source))


def _parse_log(fx: Fixture, kind: str, data: bytes) -> None:
    us = fx.net["US"].runtime
    if kind == "note":
        parse_note(data)
    elif kind == "checkpoint":
        open_checkpoint(data, [us.log._signer.verifier()])
    elif kind == "add-checkpoint":
        parse_add_checkpoint(data)
    elif kind == "bundle":
        decode_entry_bundle(data)
    else:
        parse_tile_path(data.decode("utf-8", "replace"))


def _check_pure(fx: Fixture, examples: int) -> None:
    @_examples(examples)
    @given(envelope=mutated_envelopes(fx.envelope))
    def envelopes(envelope: Any) -> None:
        _only_molink_errors(lambda: _open(fx, envelope))

    @_examples(examples)
    @given(item=log_inputs(fx))
    def log_parsers(item: tuple[str, bytes]) -> None:
        _only_molink_errors(lambda: _parse_log(fx, *item))

    envelopes()
    log_parsers()


def test_decoders_and_log_parsers_raise_only_molink_errors(fx: Fixture) -> None:
    _check_pure(fx, FUZZ_EXAMPLES * 5)


# -- the endpoints: never 5xx ------------------------------------------------------------


async def _signed(fx: Fixture, method: str, path: str, body: bytes) -> httpx.Response:
    us = fx.net["US"].runtime.ctx
    headers = sign_request(
        us.keys.sig_private, keyid=us.keys.public.sig_kid, method=method, path=path,
        body=body, now=us.clock.now(),
    )  # fmt: skip
    transport = httpx.ASGITransport(app=fx.net["RU"].app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ru") as client:
        return await client.request(method, path, content=body, headers=headers)


def _check_federation(answer: httpx.Response) -> None:
    assert answer.status_code < 500, answer.text
    if answer.status_code == 200:
        for result in answer.json()["results"]:
            assert result["status"] in ("stored", "duplicate", "rejected"), result
            if result["status"] == "rejected":
                assert result["error"]["type"] in CODES, result


@st.composite
def federation_bodies(draw: st.DrawFn, valid: dict[str, Any]) -> bytes:
    """Any JSON a peer could send (not only I-JSON), or mutated bytes of a valid batch."""
    how = draw(st.sampled_from(["batch", "bytes", "json"]))
    if how == "batch":
        batch = draw(st.lists(mutated_envelopes(valid), min_size=1, max_size=3))
        return json.dumps({"envelopes": batch}).encode()
    if how == "bytes":
        return draw(mutations(canonical_json({"envelopes": [valid]})))
    return json.dumps(draw(json_values)).encode()


def _check_endpoints(fx: Fixture, examples: int) -> None:
    @_examples(examples)
    @given(body=federation_bodies(fx.envelope))
    def envelopes(body: bytes) -> None:
        _check_federation(run(_signed(fx, "POST", "/federation/v1/envelopes", body)))

    @_examples(examples)
    @given(body=mutations(fx.add_checkpoint))
    def add_checkpoint(body: bytes) -> None:
        answer = run(_signed(fx, "POST", "/federation/v1/witness/add-checkpoint", body))
        assert answer.status_code < 500, answer.text

    @_examples(examples)
    @given(
        path=st.text(
            st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="?#%\\"),
            max_size=40,
        )
    )
    def tiles(path: str) -> None:
        answer = run(_signed(fx, "GET", "/log/tile/" + path, b""))
        assert answer.status_code < 500, (path, answer.text)

    envelopes()
    add_checkpoint()
    tiles()


def test_federation_witness_and_tile_endpoints_never_answer_5xx(fx: Fixture) -> None:
    _check_endpoints(fx, FUZZ_EXAMPLES)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_fuzz_many_examples(fx: Fixture) -> None:
    _check_pure(fx, SLOW_EXAMPLES * 4)
    _check_endpoints(fx, SLOW_EXAMPLES)


def test_mutations_change_the_input(fx: Fixture) -> None:
    assert _apply(b"abc", [("truncate", 1, b"x")]) == b"a"
    assert _apply(b"abc", [("insert", 3, b"z")]) == b"abcz"
    assert _apply(b"abc", [("flip", 0, b"\x01")]) == b"`bc"
    assert fx.net["RU"].runtime.ctx.party == "RU"
