"""C2SP tlog-checkpoint and tlog-cosignature: strict parsing, signing, PyNaCl cross-check."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
from pathlib import Path

import nacl.signing
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from molink.core import checkpoint as checkpoint_module
from molink.core import cosignature as cosignature_module
from molink.core.checkpoint import (
    Checkpoint,
    open_checkpoint,
    parse_size,
    peek_origin,
    sign_checkpoint,
)
from molink.core.cosignature import (
    MAX_TIMESTAMP,
    Cosignature,
    CosignatureVerifier,
    Cosigner,
    cosignature_timestamp,
    cosigned_message,
    verify_cosignatures,
)
from molink.core.merkle import leaf_hash, root_from_leaf_hashes
from molink.core.note import (
    MAX_NOTE_SIZE,
    Ed25519Signer,
    Ed25519Verifier,
    NoteSignature,
    open_note,
    parse_note,
)
from molink.errors import ConfigError, InvalidInput, MalformedData, MolinkError, SignatureInvalid

VECTOR_DIR = Path(__file__).parents[1] / "vectors"
FORMATS = json.loads((VECTOR_DIR / "signed_note_go.json").read_text())["formats"]

ORIGIN = "log.molink.example/US"
SPEC_BODY = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
SPEC_COSIGNED = (
    SPEC_BODY
    + "\n"
    + "— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5"
    "/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
    + "— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dl"
    "rDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
)


def seed(label: str) -> bytes:
    return hashlib.sha256(f"molink test key {label}".encode()).digest()


LOG = Ed25519Signer(ORIGIN, seed(ORIGIN))
WITNESS = Cosigner("witness.molink.example/RU", seed("witness RU"))
ROOT6 = root_from_leaf_hashes(
    [leaf_hash(bytes.fromhex(x)) for x in ["", "00", "10", "2021", "3031", "40414243"]]
)


def cp(size: int = 6, root_hash: bytes = ROOT6, *ext: str) -> Checkpoint:
    return Checkpoint(ORIGIN, size, root_hash, tuple(ext))


# ---------------------------------------------------------------------- checkpoints


def test_spec_example_parses_and_round_trips() -> None:
    parsed = Checkpoint.parse(SPEC_BODY)
    assert parsed.origin == "example.com/behind-the-sofa"
    assert parsed.size == 20852163
    assert parsed.root_hash == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    assert parsed.body() == SPEC_BODY.encode()
    assert Checkpoint.parse(SPEC_BODY.encode()) == parsed
    assert peek_origin(SPEC_COSIGNED) == "example.com/behind-the-sofa"


def test_spec_cosignature_example_carries_the_spec_timestamp() -> None:
    sigs = parse_note(SPEC_COSIGNED).signatures
    assert cosignature_timestamp(sigs[1]) == 1679315147
    with pytest.raises(MalformedData):
        cosignature_timestamp(sigs[0])


def test_extension_lines() -> None:
    c = cp(6, ROOT6, "ext one", "ext ✓")
    assert c.text().endswith("ext one\next ✓\n")
    assert Checkpoint.parse(c.body()) == c


@pytest.mark.parametrize(
    "body",
    [
        "",
        "\n",
        "origin\n",
        "origin\n1\n",
        "origin\n1\nAAAA\n",
        "\n1\n" + SPEC_BODY.split("\n")[2] + "\n",
        SPEC_BODY[:-1],
        SPEC_BODY.replace("20852163", "020852163"),
        SPEC_BODY.replace("20852163", "+20852163"),
        SPEC_BODY.replace("20852163", "-20852163"),
        SPEC_BODY.replace("20852163", " 20852163"),
        SPEC_BODY.replace("20852163", "20852163 "),
        SPEC_BODY.replace("20852163", "２０８５２１６３"),
        SPEC_BODY.replace("20852163", "9223372036854775808"),
        SPEC_BODY.replace("20852163", "99999999999999999999"),
        SPEC_BODY.replace("20852163", "0x10"),
        SPEC_BODY.replace("20852163", "1_000"),
        SPEC_BODY.replace("20852163", ""),
        SPEC_BODY.replace("2I=", "2J="),
        SPEC_BODY.replace("q2I=", "q2"),
        SPEC_BODY.replace("CsUY", "CsU"),
        SPEC_BODY.replace("=\n", "=\n\n"),
        SPEC_BODY + "\n",
        SPEC_BODY + "ext\n\n",
        SPEC_BODY.replace("\n", "\r\n"),
        SPEC_BODY.replace("sofa", "so\x00fa"),
        SPEC_BODY + "ext\x7f\x01\n",
        SPEC_BODY + "x\n" * 17,
    ],
)
def test_malformed_checkpoints(body: str) -> None:
    with pytest.raises(MalformedData):
        Checkpoint.parse(body)


def test_oversized_checkpoints() -> None:
    huge = SPEC_BODY + "x" * MAX_NOTE_SIZE + "\n"
    with pytest.raises(MalformedData):
        Checkpoint.parse(huge)
    with pytest.raises(MalformedData):
        open_checkpoint(huge.encode() + b"\n\xff", [LOG.verifier()])


def test_invalid_utf8_checkpoint() -> None:
    with pytest.raises(MalformedData):
        Checkpoint.parse(b"\xff\n1\n" + SPEC_BODY.split("\n")[2].encode() + b"\n")


def test_parse_size_edges() -> None:
    assert parse_size("0") == 0
    assert parse_size("9223372036854775807") == 2**63 - 1
    for bad in ["00", "01", "", "9223372036854775808", "1e3", "٣"]:
        with pytest.raises(MalformedData):
            parse_size(bad)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"origin": ""},
        {"origin": "a\nb"},
        {"size": -1},
        {"size": 2**63},
        {"size": True},
        {"root_hash": b"short"},
        {"extensions": ("",)},
        {"extensions": ("a\nb",)},
        {"extensions": ["list"]},
    ],
)
def test_invalid_checkpoints_cannot_exist(kwargs: dict[str, object]) -> None:
    fields: dict[str, object] = {"origin": ORIGIN, "size": 1, "root_hash": ROOT6}
    fields.update(kwargs)
    with pytest.raises(InvalidInput):
        Checkpoint(**fields)  # type: ignore[arg-type]


def test_sign_and_open() -> None:
    signed = sign_checkpoint(cp(), LOG)
    opened = open_checkpoint(signed, [LOG.verifier()], origin=ORIGIN)
    assert opened.checkpoint == cp()
    assert opened.raw == signed
    assert opened.opened.note.format() == signed
    assert open_checkpoint(signed.encode(), [LOG.verifier()]).checkpoint == cp()


def test_open_rejects_wrong_key_and_wrong_origin() -> None:
    signed = sign_checkpoint(cp(), LOG)
    other = Ed25519Signer(ORIGIN, seed("impostor"))
    with pytest.raises(SignatureInvalid):
        open_checkpoint(signed, [other.verifier()])
    with pytest.raises(SignatureInvalid) as info:
        open_checkpoint(signed, [LOG.verifier()], origin="log.molink.example/RU")
    assert info.value.evidence["checkpoint"] == signed


def test_log_key_name_must_be_the_origin() -> None:
    with pytest.raises(InvalidInput):
        sign_checkpoint(Checkpoint("other.example", 1, ROOT6), LOG)


def test_a_tampered_checkpoint_is_rejected() -> None:
    signed = sign_checkpoint(cp(), LOG)
    for old, new in [("\n6\n", "\n7\n"), (ORIGIN + "\n", ORIGIN + "x\n")]:
        with pytest.raises(SignatureInvalid):
            open_checkpoint(signed.replace(old, new, 1), [LOG.verifier()])


def test_pynacl_verifies_a_molink_checkpoint() -> None:
    signed = sign_checkpoint(cp(), LOG)
    sig = parse_note(signed).signatures[0]
    nacl.signing.VerifyKey(LOG.public_key).verify(cp().body(), sig.signature)
    with pytest.raises(nacl.exceptions.BadSignatureError):
        nacl.signing.VerifyKey(LOG.public_key).verify(cp(7).body(), sig.signature)


def test_molink_opens_a_pynacl_checkpoint() -> None:
    key = nacl.signing.SigningKey(seed("nacl log"))
    verifier = Ed25519Verifier(ORIGIN, key.verify_key.encode())
    raw = key.sign(cp().body()).signature
    signed = cp().text() + "\n" + NoteSignature(ORIGIN, verifier.key_id, raw).line()
    assert open_checkpoint(signed, [verifier]).checkpoint == cp()


# --------------------------------------------------------------------- cosignatures


def test_cosigned_message_bytes() -> None:
    assert cosigned_message(SPEC_BODY.encode(), 1679315147) == (
        b"cosignature/v1\ntime 1679315147\n" + SPEC_BODY.encode()
    )
    assert cosigned_message(b"x\n", 0) == b"cosignature/v1\ntime 0\nx\n"
    for bad in (-1, MAX_TIMESTAMP + 1, True):
        with pytest.raises(InvalidInput):
            cosigned_message(b"x\n", bad)


def test_cosign_and_verify() -> None:
    sig = WITNESS.cosign(cp(), 1_700_000_000)
    assert len(sig.signature) == 72
    assert sig.signature[:8] == (1_700_000_000).to_bytes(8, "big")
    assert cosignature_timestamp(sig) == 1_700_000_000
    verifier = CosignatureVerifier.from_vkey(WITNESS.vkey)
    assert verifier == WITNESS.verifier()
    assert verifier.verify_cosignature(cp().body(), sig) == 1_700_000_000
    with pytest.raises(SignatureInvalid):
        verifier.verify_cosignature(cp(7).body(), sig)
    forged_time = NoteSignature(sig.name, sig.key_id, (1).to_bytes(8, "big") + sig.signature[8:])
    with pytest.raises(SignatureInvalid):
        verifier.verify_cosignature(cp().body(), forged_time)
    other = Cosigner("witness.molink.example/UA", seed("witness UA")).cosign(cp(), 1)
    with pytest.raises(SignatureInvalid):
        verifier.verify_cosignature(cp().body(), other)


def test_cosignature_timestamps_at_the_edges() -> None:
    verifier = WITNESS.verifier()
    for ts in (0, MAX_TIMESTAMP):
        assert verifier.verify_cosignature(cp().body(), WITNESS.cosign(cp(), ts)) == ts
    with pytest.raises(InvalidInput):
        WITNESS.cosign(cp(), MAX_TIMESTAMP + 1)
    too_late = NoteSignature(WITNESS.name, WITNESS.key_id, b"\xff" * 72)
    with pytest.raises(MalformedData):
        cosignature_timestamp(too_late)
    assert not verifier.verify(cp().body(), too_late.signature)


def test_pynacl_verifies_a_molink_cosignature() -> None:
    sig = WITNESS.cosign(cp(), 1_700_000_123)
    message = cosigned_message(cp().body(), 1_700_000_123)
    nacl.signing.VerifyKey(WITNESS.public_key).verify(message, sig.signature[8:])


def test_cosignature_key_type_and_vkeys() -> None:
    vkey = WITNESS.vkey
    assert base64.b64decode(vkey.split("+")[2])[0] == 0x04
    assert WITNESS.key_id != Ed25519Signer(WITNESS.name, WITNESS.seed).key_id
    with pytest.raises(MalformedData):
        CosignatureVerifier.from_vkey(LOG.vkey)
    with pytest.raises(MalformedData):
        Ed25519Verifier.from_vkey(vkey)
    remora = CosignatureVerifier.from_vkey(FORMATS["cosignature_vkey"])
    assert remora.vkey == FORMATS["cosignature_vkey"]


def test_formats_cosignature_timestamp_vector() -> None:
    raw = base64.b64decode(FORMATS["cosignature_base64"])
    sig = NoteSignature("w", int.from_bytes(raw[:4], "big"), raw[4:])
    assert cosignature_timestamp(sig) == FORMATS["cosignature_timestamp"]
    raw = base64.b64decode(FORMATS["not_a_cosignature_base64"])
    with pytest.raises(MalformedData):
        cosignature_timestamp(NoteSignature("w", int.from_bytes(raw[:4], "big"), raw[4:]))


def test_cosigner_keys() -> None:
    assert Cosigner.from_skey(WITNESS.skey) == WITNESS
    assert "seed" not in repr(WITNESS)
    with pytest.raises(ConfigError):
        Cosigner.from_skey(LOG.skey)
    with pytest.raises(ConfigError):
        Ed25519Signer.from_skey(WITNESS.skey)
    with pytest.raises(ConfigError):
        Cosigner.from_skey(WITNESS.skey.replace("+", "-", 3))
    assert Cosigner.generate("w.example", lambda n: b"\x01" * n).seed == b"\x01" * 32


def test_cosignature_covers_extension_lines() -> None:
    sig = WITNESS.cosign(cp(6, ROOT6, "Extendo"), 5)
    with pytest.raises(SignatureInvalid):
        WITNESS.verifier().verify_cosignature(cp(6, ROOT6, "Extend@").body(), sig)


def test_cosigned_checkpoint_end_to_end() -> None:
    signed = sign_checkpoint(cp(), LOG)
    opened = open_checkpoint(signed, [LOG.verifier()])
    ua = Cosigner("witness.molink.example/UA", seed("witness UA"))
    cosigned = opened.with_signatures([WITNESS.cosign(cp(), 10), ua.cosign(cp(), 11)])
    # The log's signature still verifies, cosignatures are ignored by the log verifier.
    again = open_checkpoint(cosigned, [LOG.verifier()])
    assert len(again.opened.unverified) == 2
    found = verify_cosignatures(cosigned, [WITNESS.verifier(), ua.verifier()])
    assert found == (
        Cosignature(WITNESS.name, WITNESS.key_id, 10),
        Cosignature(ua.name, ua.key_id, 11),
    )
    assert verify_cosignatures(cosigned, [ua.verifier()]) == (found[1],)
    assert verify_cosignatures(cosigned, []) == ()
    # A cosignature verifier also works through open_note.
    assert len(open_note(cosigned, [WITNESS.verifier()]).verified) == 1
    # A bad cosignature by a known witness is rejected.
    bad = again.with_signatures([NoteSignature(WITNESS.name, WITNESS.key_id, bytes(72))])
    with pytest.raises(SignatureInvalid):
        verify_cosignatures(bad, [WITNESS.verifier()])
    # Re-signing keeps cosignatures and replaces the old log signature.
    resigned = sign_checkpoint(cp(), LOG, keep=parse_note(cosigned).signatures)
    assert parse_note(resigned).signatures[-1].name == ORIGIN
    assert len(parse_note(resigned).signatures) == 3


# ------------------------------------------------------------ molink's own vectors


def molink_vectors() -> dict[str, object]:
    leaves = [bytes.fromhex(x) for x in ["", "00", "10", "2021", "3031", "40414243"]]
    checkpoint = Checkpoint(
        ORIGIN, len(leaves), root_from_leaf_hashes(list(map(leaf_hash, leaves)))
    )
    signed = sign_checkpoint(checkpoint, LOG)
    cosig = WITNESS.cosign(checkpoint, 1_700_000_000)
    return {
        "description": "Generated by tests/unit/test_checkpoint.py::molink_vectors from fixed "
        "seeds sha256('molink test key <label>'); regenerate with MOLINK_REGENERATE_VECTORS=1. "
        "The checkpoint is the first 6 leaves of the RFC 6962 test tree.",
        "log_skey": LOG.skey,
        "log_vkey": LOG.vkey,
        "witness_skey": WITNESS.skey,
        "witness_vkey": WITNESS.vkey,
        "checkpoint_body": checkpoint.text(),
        "signed_checkpoint": signed,
        "cosignature_time": 1_700_000_000,
        "cosigned_message": cosigned_message(checkpoint.body(), 1_700_000_000).decode(),
        "cosigned_checkpoint": parse_note(signed).with_signatures([cosig]).format(),
    }


def test_molink_vectors_are_current() -> None:
    path = VECTOR_DIR / "checkpoint_molink.json"
    fresh = molink_vectors()
    if os.environ.get("MOLINK_REGENERATE_VECTORS") == "1":
        path.write_text(json.dumps(fresh, indent=2, ensure_ascii=False) + "\n")
    stored = json.loads(path.read_text())
    assert stored == fresh
    log = Ed25519Verifier.from_vkey(stored["log_vkey"])
    witness = CosignatureVerifier.from_vkey(stored["witness_vkey"])
    opened = open_checkpoint(stored["cosigned_checkpoint"], [log])
    assert opened.checkpoint.root_hash.hex() == (
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"
    )
    assert verify_cosignatures(stored["cosigned_checkpoint"], [witness])[0].timestamp == (
        1_700_000_000
    )


# -------------------------------------------------------------------- properties

lines = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\n", min_codepoint=0x20),
    min_size=1,
    max_size=20,
)


@settings(max_examples=300, deadline=None)
@given(
    origin=lines,
    size=st.integers(min_value=0, max_value=2**63 - 1),
    root_hash=st.binary(min_size=32, max_size=32),
    extensions=st.lists(lines, max_size=3),
)
def test_checkpoints_round_trip(
    origin: str, size: int, root_hash: bytes, extensions: list[str]
) -> None:
    c = Checkpoint(origin, size, root_hash, tuple(extensions))
    assert Checkpoint.parse(c.body()) == c
    assert Checkpoint.parse(c.text()) == c


_shaped = st.lists(
    st.sampled_from(["origin", "1", "01", "0", "", " ", "AAAA", SPEC_BODY.split("\n")[2], "é"]),
    max_size=6,
).map(lambda parts: "\n".join(parts) + "\n")


@settings(max_examples=400, deadline=None)
@given(data=st.one_of(st.binary(max_size=200), _shaped.map(str.encode)))
def test_parsers_raise_only_molink_errors(data: bytes) -> None:
    with contextlib.suppress(MolinkError):
        parsed = Checkpoint.parse(data)
        # Strict and canonical: whatever parses is what body() writes back.
        assert parsed.body() == data
    for call in (
        lambda: open_checkpoint(data, [LOG.verifier()]),
        lambda: peek_origin(data),
        lambda: verify_cosignatures(data, [WITNESS.verifier()]),
        lambda: CosignatureVerifier.from_vkey(data.decode("utf-8", "replace")),
    ):
        with contextlib.suppress(MolinkError):
            call()


def test_exported_members() -> None:
    assert set(checkpoint_module.__all__) == {
        "MAX_EXTENSION_LINES",
        "Checkpoint",
        "SignedCheckpoint",
        "open_checkpoint",
        "parse_size",
        "peek_origin",
        "sign_checkpoint",
    }
    assert set(cosignature_module.__all__) == {
        "COSIGNATURE_TYPE",
        "MAX_TIMESTAMP",
        "Cosignature",
        "CosignatureVerifier",
        "Cosigner",
        "cosignature_timestamp",
        "cosigned_message",
        "verify_cosignatures",
    }
