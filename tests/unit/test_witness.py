"""C2SP tlog-witness add-checkpoint: wire format and the witness decision."""

from __future__ import annotations

import base64
import contextlib
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from molink.core import witness as witness_module
from molink.core.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from molink.core.cosignature import Cosigner, verify_cosignatures
from molink.core.merkle import MemoryHashStore, NodeId, consistency_proof, leaf_hash, root
from molink.core.note import Ed25519Signer, NoteSignature
from molink.core.witness import (
    MAX_PROOF_LINES,
    AddCheckpointRequest,
    OldSizeMismatch,
    WitnessDecision,
    WitnessState,
    accept_cosignatures,
    decide,
    format_add_checkpoint,
    format_size_conflict,
    parse_add_checkpoint,
    parse_size_conflict,
)
from molink.errors import (
    Equivocation,
    InvalidInput,
    MalformedData,
    MolinkError,
    NotFound,
    SignatureInvalid,
    StateConflict,
)

SPEC_REQUEST = (
    "old 20852014\n"
    "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n"
    "jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n"
    "5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n"
    "/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n"
    "\n"
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    "\n"
    "— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/"
    "Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
    "— example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/"
    "V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=\n"
).encode()

ORIGIN = "log.molink.example/US"
LOG = Ed25519Signer(ORIGIN, hashlib.sha256(b"witness test log").digest())
W1 = Cosigner("witness.molink.example/RU", hashlib.sha256(b"witness test w1").digest())
W2 = Cosigner("witness.molink.example/UA", hashlib.sha256(b"witness test w2").digest())
NOW = 1_800_000_000


class Log:
    """A tiny log: a store of leaf hashes plus signing."""

    def __init__(self, label: bytes = b"") -> None:
        self.store = MemoryHashStore()
        self.label = label

    def grow(self, n: int) -> None:
        for _ in range(n):
            self.store.append(leaf_hash(self.label + self.store.size.to_bytes(8, "big")))

    def checkpoint(self, size: int | None = None) -> Checkpoint:
        size = self.store.size if size is None else size
        return Checkpoint(ORIGIN, size, root(size, self.store))

    def signed(self, size: int | None = None) -> str:
        return sign_checkpoint(self.checkpoint(size), LOG)

    def request(self, old: int, size: int | None = None) -> AddCheckpointRequest:
        size = self.store.size if size is None else size
        proof = tuple(consistency_proof(old, size, self.store))
        return AddCheckpointRequest(old, proof, self.signed(size))


def run(
    request: AddCheckpointRequest, state: WitnessState | None, *, now: int = NOW
) -> WitnessDecision:
    return decide(request, log_verifiers=[LOG.verifier()], cosigners=[W1], state=state, now=now)


def state_after(log: Log, size: int) -> WitnessState:
    c = log.checkpoint(size)
    return WitnessState(ORIGIN, size, c.root_hash, log.signed(size))


# ------------------------------------------------------------------------- format


def test_spec_request_parses_and_round_trips() -> None:
    request = parse_add_checkpoint(SPEC_REQUEST)
    assert request.old_size == 20852014
    assert len(request.proof) == 4
    assert request.proof[0] == base64.b64decode("PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=")
    assert request.origin == "example.com/behind-the-sofa"
    assert request.checkpoint.startswith("example.com/behind-the-sofa\n20852163\n")
    assert request.format() == SPEC_REQUEST


def test_request_without_proof() -> None:
    signed = Log().signed()
    body = format_add_checkpoint(0, [], signed)
    assert body == ("old 0\n\n" + signed).encode()
    assert parse_add_checkpoint(body) == AddCheckpointRequest(0, (), signed)


_CP = SPEC_REQUEST.split(b"\n\n", 1)[1]
_H = b"PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"old 1\n",
        b"old 1\n" + _CP,
        b"old 01\n\n" + _CP,
        b"old -1\n\n" + _CP,
        b"old  1\n\n" + _CP,
        b"Old 1\n\n" + _CP,
        b"old 1 \n\n" + _CP,
        b"old\n\n" + _CP,
        b"old 9223372036854775808\n\n" + _CP,
        b"old 0\n" + _H + b"\n" + _CP,
        b"old 5\n" + _H * (MAX_PROOF_LINES + 1) + b"\n" + _CP,
        b"old 5\n" + _H.replace(b"=", b"") + b"\n" + _CP,
        b"old 5\n" + _H.replace(b"kaw=", b"ka==") + b"\n" + _CP,
        b"old 5\n" + _H.replace(b"w=", b"x=") + b"\n" + _CP,
        b"old 5\r\n\n" + _CP,
        b"old 5\n\n",
        b"\xffold 5\n\n" + _CP,
        b"\nold 5\n\n" + _CP,
    ],
)
def test_malformed_requests(body: bytes) -> None:
    with pytest.raises(MalformedData):
        parse_add_checkpoint(body)


def test_request_limits() -> None:
    log = Log()
    log.grow(3)
    body = log.request(0).format()
    with pytest.raises(MalformedData):
        parse_add_checkpoint(body, max_size=len(body) - 1)
    parse_add_checkpoint(b"old 5\n" + _H * MAX_PROOF_LINES + b"\n" + _CP)
    bads: list[dict[str, object]] = [
        {"old_size": -1},
        {"old_size": True},
        {"proof": [bytes(32)]},
        {"proof": (bytes(31),)},
        {"old_size": 0, "proof": (bytes(32),)},
        {"checkpoint": ""},
    ]
    for bad in bads:
        fields: dict[str, object] = {"old_size": 1, "proof": (), "checkpoint": "x"}
        fields.update(bad)
        with pytest.raises(InvalidInput):
            AddCheckpointRequest(**fields)  # type: ignore[arg-type]


def test_size_conflict_body() -> None:
    assert format_size_conflict(20852014) == b"20852014\n"
    assert parse_size_conflict(b"20852014\n") == 20852014
    for bad in [b"", b"1", b"01\n", b"1\n\n", b" 1\n", b"\xff\n", "١\n".encode()]:
        with pytest.raises(MalformedData):
            parse_size_conflict(bad)


# ------------------------------------------------------------------------ decide


def test_first_checkpoint_is_cosigned() -> None:
    log = Log()
    log.grow(5)
    request = log.request(0)
    decision = decide(
        request, log_verifiers=[LOG.verifier()], cosigners=[W1, W2], state=None, now=NOW
    )
    assert decision.state == WitnessState(ORIGIN, 5, root(5, log.store), request.checkpoint)
    sigs = accept_cosignatures(log.checkpoint(), decision.response_body(), [W1.verifier()])
    assert [s.name for s in sigs] == [W1.name]
    cosigned = open_checkpoint(request.checkpoint, [LOG.verifier()]).with_signatures(sigs)
    found = verify_cosignatures(cosigned, [W1.verifier(), W2.verifier()])
    assert [(c.name, c.timestamp) for c in found] == [(W1.name, NOW)]
    lines = decision.response_body().decode().splitlines()
    assert len(lines) == 2
    assert all(line.startswith("— ") for line in lines)


def test_a_growing_log_is_followed() -> None:
    log = Log()
    state = None
    for step in [1, 2, 5, 1, 8, 0, 13, 256, 3]:
        log.grow(step)
        old = 0 if state is None else state.size
        decision = run(log.request(old), state)
        state = decision.state
        assert state.size == log.store.size
    assert state is not None
    assert state.root_hash == root(log.store.size, log.store)


def test_stale_old_size_is_a_409_with_the_known_size() -> None:
    log = Log()
    log.grow(10)
    state = state_after(log, 7)
    with pytest.raises(OldSizeMismatch) as info:
        run(log.request(5), state)
    assert info.value.known_size == 7
    assert isinstance(info.value, StateConflict)
    assert format_size_conflict(info.value.known_size) == b"7\n"
    with pytest.raises(OldSizeMismatch) as info:
        run(log.request(4), None)
    assert info.value.known_size == 0


def test_old_size_larger_than_the_checkpoint_is_a_400() -> None:
    log = Log()
    log.grow(10)
    request = AddCheckpointRequest(11, (bytes(32),), log.signed())
    with pytest.raises(MalformedData):
        run(request, state_after(log, 10))


def test_rollback_to_a_smaller_tree_is_refused() -> None:
    log = Log()
    log.grow(10)
    request = AddCheckpointRequest(10, (), log.signed(6))
    with pytest.raises(MalformedData):
        run(request, state_after(log, 10))


def test_same_checkpoint_again_is_cosigned_again() -> None:
    log = Log()
    log.grow(4)
    state = state_after(log, 4)
    decision = run(AddCheckpointRequest(4, (), log.signed()), state, now=NOW + 1)
    assert decision.state.size == 4
    with pytest.raises(MalformedData):
        run(AddCheckpointRequest(4, (bytes(32),), log.signed()), state)


def test_bad_signature_and_unknown_origin() -> None:
    log = Log()
    log.grow(3)
    impostor = Ed25519Signer(ORIGIN, hashlib.sha256(b"impostor").digest())
    forged = AddCheckpointRequest(0, (), sign_checkpoint(log.checkpoint(), impostor))
    with pytest.raises(SignatureInvalid):
        run(forged, None)
    with pytest.raises(NotFound):
        decide(log.request(0), log_verifiers=[], cosigners=[W1], state=None, now=NOW)
    with pytest.raises(InvalidInput):
        decide(log.request(0), log_verifiers=[LOG.verifier()], cosigners=[], state=None, now=NOW)
    other = WitnessState("other.example", 0, bytes(32), "x")
    with pytest.raises(InvalidInput):
        run(log.request(0), other)


def test_same_size_different_root_is_equivocation_with_evidence() -> None:
    honest, fork = Log(), Log(b"fork")
    honest.grow(6)
    fork.grow(6)
    state = state_after(honest, 6)
    request = AddCheckpointRequest(6, (), fork.signed())
    with pytest.raises(Equivocation) as info:
        run(request, state)
    evidence = info.value.evidence
    assert evidence["reason"] == "same-size-different-root"
    # Both checkpoints carry valid log signatures: the evidence proves the fork.
    a = open_checkpoint(evidence["cosigned_checkpoint"], [LOG.verifier()]).checkpoint
    b = open_checkpoint(evidence["new_checkpoint"], [LOG.verifier()]).checkpoint
    assert a.size == b.size
    assert a.root_hash != b.root_hash


def test_failed_consistency_proof_is_equivocation_with_evidence() -> None:
    honest = Log()
    honest.grow(6)
    state = state_after(honest, 6)
    fork = Log()
    fork.grow(6)
    rewritten = [
        leaf_hash(b"rewritten"),
        *fork.store.get_hashes([NodeId(0, i) for i in range(1, 6)]),
    ]
    fork.store = MemoryHashStore.from_leaf_hashes(rewritten)
    fork.grow(4)
    request = fork.request(6)
    with pytest.raises(Equivocation) as info:
        run(request, state)
    evidence = info.value.evidence
    assert evidence["reason"] == "consistency-proof-failed"
    assert evidence["old_size"] == 6
    assert evidence["new_size"] == 10
    assert evidence["proof"] == [base64.b64encode(h).decode() for h in request.proof]
    assert evidence["cosigned_checkpoint"] == state.checkpoint
    assert evidence["new_checkpoint"] == request.checkpoint


def test_a_garbled_proof_is_refused() -> None:
    log = Log()
    log.grow(9)
    state = state_after(log, 5)
    request = log.request(5)
    bad = (bytes([request.proof[0][0] ^ 1]) + request.proof[0][1:], *request.proof[1:])
    with pytest.raises(Equivocation):
        run(AddCheckpointRequest(5, bad, request.checkpoint), state)
    with pytest.raises(Equivocation):
        run(AddCheckpointRequest(5, (), request.checkpoint), state)


def test_accept_cosignatures_rejects_bad_or_missing_lines() -> None:
    log = Log()
    log.grow(2)
    good = run(log.request(0), None).response_body()
    assert accept_cosignatures(log.checkpoint(), good, [W1.verifier(), W2.verifier()])
    with pytest.raises(SignatureInvalid):
        accept_cosignatures(log.checkpoint(), good, [W2.verifier()])
    bad = NoteSignature(W1.name, W1.key_id, bytes(72)).line().encode()
    with pytest.raises(SignatureInvalid):
        accept_cosignatures(log.checkpoint(), bad, [W1.verifier()])
    with pytest.raises(SignatureInvalid):
        accept_cosignatures(log.checkpoint(1), good, [W1.verifier()])
    with pytest.raises(MalformedData):
        accept_cosignatures(log.checkpoint(), b"junk\n", [W1.verifier()])


# -------------------------------------------------------------------- properties


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300))
def test_parsers_raise_only_molink_errors(data: bytes) -> None:
    for call in (
        lambda: parse_add_checkpoint(data),
        lambda: parse_add_checkpoint(b"old 1\n\n" + data),
        lambda: parse_size_conflict(data),
        lambda: accept_cosignatures(Log().checkpoint(), data, [W1.verifier()]),
    ):
        with contextlib.suppress(MolinkError):
            call()


@settings(max_examples=200, deadline=None)
@given(
    old=st.integers(min_value=1, max_value=2**63 - 1),
    proof=st.lists(st.binary(min_size=32, max_size=32), max_size=MAX_PROOF_LINES),
)
def test_requests_round_trip(old: int, proof: list[bytes]) -> None:
    request = AddCheckpointRequest(old, tuple(proof), SPEC_REQUEST.split(b"\n\n", 1)[1].decode())
    assert parse_add_checkpoint(request.format()) == request


@settings(max_examples=30, deadline=None)
@given(steps=st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=8))
def test_witness_follows_any_honest_growth(steps: list[int]) -> None:
    log = Log()
    state: WitnessState | None = None
    for step in steps:
        log.grow(step)
        decision = run(log.request(0 if state is None else state.size), state)
        state = decision.state
    assert state is not None
    assert state.size == sum(steps)


def test_exported_members() -> None:
    assert set(witness_module.__all__) == {
        "MAX_PROOF_LINES",
        "MAX_REQUEST_SIZE",
        "SIZE_CONTENT_TYPE",
        "AddCheckpointRequest",
        "OldSizeMismatch",
        "WitnessDecision",
        "WitnessState",
        "accept_cosignatures",
        "decide",
        "format_add_checkpoint",
        "format_size_conflict",
        "parse_add_checkpoint",
        "parse_size_conflict",
    }
