"""C2SP signed-note: Go sumdb/note known answers, strict parsing, PyNaCl cross-check."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path

import nacl.signing
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from molink.core import note as note_module
from molink.core.note import (
    MAX_SIGNATURES,
    Ed25519Signer,
    Ed25519Verifier,
    Note,
    NoteSignature,
    VerifierKey,
    is_valid_key_name,
    key_id,
    open_note,
    parse_note,
    parse_signature_lines,
    sign_note,
)
from molink.errors import (
    ConfigError,
    InvalidInput,
    MalformedData,
    MolinkError,
    SignatureInvalid,
)

VECTOR_DIR = Path(__file__).parents[1] / "vectors"
GO = json.loads((VECTOR_DIR / "signed_note_go.json").read_text())["go"]
FORMATS = json.loads((VECTOR_DIR / "signed_note_go.json").read_text())["formats"]
TEXT = GO["text"]
PETER_SIG = GO["peter_sig_line"]
ENOCH_SIG = GO["enoch_sig_line"]
PETER = Ed25519Verifier.from_vkey(GO["peter_vkey"])
ENOCH = Ed25519Verifier.from_vkey(GO["enoch_vkey"])


def fixed_signer(name: str) -> Ed25519Signer:
    return Ed25519Signer(name, hashlib.sha256(f"molink test key {name}".encode()).digest())


# --------------------------------------------------------------------- Go vectors


def test_go_sign_known_answer() -> None:
    signer = Ed25519Signer.from_skey(GO["peter_skey"])
    assert signer.vkey == GO["peter_vkey"]
    assert signer.skey == GO["peter_skey"]
    assert f"{signer.key_id:08x}" == "c74f20a3"
    assert sign_note(TEXT, [signer]) == GO["signed_note"]


def test_go_sign_replaces_an_existing_signature_by_the_same_key() -> None:
    signer = Ed25519Signer.from_skey(GO["peter_skey"])
    stale = NoteSignature("PeterNeumann", 0xC74F20A3, b"BADSIGN")
    assert sign_note(TEXT, [signer], keep=[stale]) == GO["signed_note"]


def test_go_open_one_verified_one_unknown() -> None:
    opened = open_note(TEXT + "\n" + PETER_SIG + ENOCH_SIG, [PETER])
    assert opened.text == TEXT
    assert [s.line() for s in opened.verified] == [PETER_SIG]
    assert [s.line() for s in opened.unverified] == [ENOCH_SIG]
    assert opened.note.format() == TEXT + "\n" + PETER_SIG + ENOCH_SIG


def test_go_open_both_verified() -> None:
    opened = open_note((TEXT + "\n" + PETER_SIG + ENOCH_SIG).encode(), [PETER, ENOCH])
    assert [s.line() for s in opened.verified] == [PETER_SIG, ENOCH_SIG]
    assert opened.unverified == ()


def test_go_open_without_known_key_is_rejected_with_evidence() -> None:
    with pytest.raises(SignatureInvalid) as info:
        open_note(TEXT + "\n" + PETER_SIG + ENOCH_SIG, [])
    assert info.value.evidence["signers"] == ["EnochRoot", "PeterNeumann"]
    assert info.value.evidence["note"] == TEXT + "\n" + PETER_SIG + ENOCH_SIG


def test_go_open_ambiguous_verifiers() -> None:
    with pytest.raises(ConfigError):
        open_note(TEXT + "\n" + ENOCH_SIG, [ENOCH, PETER, ENOCH])
    open_note(TEXT + "\n" + PETER_SIG, [ENOCH, PETER, ENOCH])


def test_go_open_signature_limits() -> None:
    for verifiers in ([PETER], []):
        with pytest.raises(MalformedData):
            open_note(TEXT + "\n" + PETER_SIG * 101, verifiers)
    assert len(open_note(TEXT + "\n" + PETER_SIG * 100, [PETER]).verified) == 1
    assert MAX_SIGNATURES >= 16


def test_go_open_invalid_signature() -> None:
    bad = PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
    with pytest.raises(SignatureInvalid) as info:
        open_note(TEXT + "\n" + bad, [PETER])
    assert info.value.evidence["key"] == "PeterNeumann+c74f20a3"


def test_go_open_duplicates() -> None:
    enoch_abcd = ENOCH_SIG[:60] + "ABCD" + ENOCH_SIG[60:]
    data = TEXT + "\n" + PETER_SIG + PETER_SIG + ENOCH_SIG + ENOCH_SIG + enoch_abcd
    opened = open_note(data, [PETER])
    assert [s.line() for s in opened.verified] == [PETER_SIG]
    assert [s.line() for s in opened.unverified] == [ENOCH_SIG, enoch_abcd]


@pytest.mark.parametrize(
    "data",
    [
        TEXT,
        TEXT + "\n",
        TEXT + "\n" + PETER_SIG[:-1],
        "\x01" + TEXT + "\n" + PETER_SIG,
        b"\xff" + (TEXT + "\n" + PETER_SIG).encode(),
        TEXT + "\n" + PETER_SIG.replace("PeterNeumann", "Bad Name")[:-1],
        TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
        TEXT + "\n" + PETER_SIG.replace("=", ""),
        TEXT + "\n" + "— PeterNeumann x08go/Z=\n",
        TEXT + "\n" + "— PeterNeumann\n",
        TEXT + "\n" + "— PeterNeumann \n",
        TEXT + "\n" + "— a+b x08go/ZJ\n",
        TEXT + "\n" + "—PeterNeumann x08go/ZJ\n",
        TEXT + "\n" + "— PeterNeumann  x08go/ZJ\n",
        TEXT + "\n" + "— Peter\u00a0Neumann x08go/ZJ\n",
        TEXT + "\n" + "— PeterNeumann x08go/ZJ\r\n",
        TEXT + "\n" + "— PeterNeumann x08go/Z\n",
        TEXT + "\n" + PETER_SIG.replace("AM=", "AN="),
        TEXT + "\n" + "— PeterNeumann x08gA==\n",
        "\ud800\n\n" + PETER_SIG,
    ],
)
def test_go_open_malformed(data: str | bytes) -> None:
    with pytest.raises(MalformedData):
        open_note(data, [PETER])


def test_unknown_name_or_unknown_id_is_ignored_not_checked() -> None:
    other_name = PETER_SIG.replace("PeterNeumann", "CarmenSandiego")
    other_id = PETER_SIG.replace("x08g", "xxxx")
    opened = open_note(TEXT + "\n" + PETER_SIG + other_name + other_id, [PETER])
    assert len(opened.verified) == 1
    assert {s.name for s in opened.unverified} == {"CarmenSandiego", "PeterNeumann"}


# ------------------------------------------------------------------------ key strings


def _manglings(key: str) -> list[str]:
    b = key.encode()
    out = [
        b[i:j].decode()
        for i in range(len(b) + 1)
        for j in range(i + 1, len(b) + 1)
        if (i, j) != (0, len(b))
    ]
    out.extend((b[:i] + bytes([b[i] + 1]) + b[i + 1 :]).decode() for i in range(len(b)))
    return out


def test_go_mangled_verifier_keys_are_rejected() -> None:
    for bad in [*_manglings(GO["peter_vkey"]), *GO["bad_vkeys"]]:
        with pytest.raises(MalformedData):
            Ed25519Verifier.from_vkey(bad)


def test_go_mangled_signer_keys_are_rejected() -> None:
    for bad in _manglings(GO["peter_skey"]):
        with pytest.raises(ConfigError):
            Ed25519Signer.from_skey(bad)


def test_formats_verifier_keys() -> None:
    plus = Ed25519Verifier.from_vkey(FORMATS["ed25519_vkey_with_plus"])
    assert plus.vkey == FORMATS["ed25519_vkey_with_plus"]
    cosig = VerifierKey.parse(FORMATS["cosignature_vkey"])
    assert (cosig.name, cosig.key_type, f"{cosig.key_id:08x}") == ("remora.n621.de", 4, "da77ade7")
    assert str(cosig) == FORMATS["cosignature_vkey"]
    with pytest.raises(MalformedData):
        Ed25519Verifier.from_vkey(FORMATS["cosignature_vkey"])
    for bad in FORMATS["bad_vkeys"]:
        with pytest.raises(MalformedData):
            VerifierKey.parse(bad)


def test_uppercase_hex_key_id_is_not_canonical() -> None:
    with pytest.raises(MalformedData):
        Ed25519Verifier.from_vkey(GO["peter_vkey"].replace("c74f20a3", "C74F20A3"))


@pytest.mark.parametrize(
    "name",
    ["", "a+b", "a b", "a\tb", "a\u00a0b", "a\u2003b", "a\u3000b", "a\x85b", "a\x01b"],
)
def test_invalid_key_names(name: str) -> None:
    assert not is_valid_key_name(name)
    with pytest.raises(InvalidInput):
        Ed25519Signer(name, bytes(32))


def test_key_id_definition() -> None:
    pub = PETER.public_key
    digest = hashlib.sha256(b"PeterNeumann\n\x01" + pub).digest()
    assert key_id("PeterNeumann", b"\x01" + pub) == int.from_bytes(digest[:4], "big")


def test_signer_repr_hides_the_seed() -> None:
    signer = fixed_signer("log.example/a")
    assert signer.seed.hex() not in repr(signer)
    assert "seed" not in repr(signer)


def test_generate_uses_the_given_randomness() -> None:
    signer = Ed25519Signer.generate("log.example/g", lambda n: b"\x07" * n)
    assert signer.seed == b"\x07" * 32
    assert Ed25519Signer.from_skey(signer.skey) == signer


# ----------------------------------------------------------------------- sign/open


def test_sign_rejects_text_without_final_newline() -> None:
    with pytest.raises(MalformedData):
        sign_note("abc", [fixed_signer("a")])
    with pytest.raises(MalformedData):
        sign_note("a\x00b\n", [fixed_signer("a")])


def test_text_may_hold_blank_lines_and_unicode() -> None:
    signer = fixed_signer("witness.example/ü")
    text = "Ognuno sta solo sul cuor della terra\n\ned è subito sera.\n\n"
    encoded = sign_note(text, [signer])
    opened = open_note(encoded.encode(), [signer.verifier()])
    assert opened.text == text


def test_with_signatures_replaces_by_key_and_keeps_order() -> None:
    a, b = fixed_signer("a"), fixed_signer("b")
    n1 = parse_note(sign_note("x\n", [a, b]))
    fresh = NoteSignature("a", a.key_id, b"\x01" * 64)
    n2 = n1.with_signatures([fresh])
    assert [s.name for s in n2.signatures] == ["b", "a"]
    assert n2.signatures[1] == fresh
    with pytest.raises(InvalidInput):
        Note("x\n", ()).with_signatures(
            NoteSignature(f"k{i}", i, b"\x00") for i in range(MAX_SIGNATURES + 1)
        )


def test_parse_signature_lines() -> None:
    sigs = parse_signature_lines(PETER_SIG + ENOCH_SIG)
    assert [s.name for s in sigs] == ["PeterNeumann", "EnochRoot"]
    for bad in ["", PETER_SIG[:-1], PETER_SIG + "\n", "x\n"]:
        with pytest.raises(MalformedData):
            parse_signature_lines(bad)


def test_max_size() -> None:
    data = TEXT + "\n" + PETER_SIG
    open_note(data, [PETER], max_size=len(data.encode()))
    with pytest.raises(MalformedData):
        open_note(data, [PETER], max_size=len(data.encode()) - 1)


def test_any_flipped_text_byte_is_rejected() -> None:
    signer = fixed_signer("log.example/flip")
    encoded = sign_note("log.example/flip\n42\nroot\n", [signer]).encode()
    text_len = len(b"log.example/flip\n42\nroot\n")
    for i in range(text_len):
        for bit in (0, 5):
            bad = bytearray(encoded)
            bad[i] ^= 1 << bit
            with pytest.raises((MalformedData, SignatureInvalid)):
                open_note(bytes(bad), [signer.verifier()])


# ------------------------------------------------------- independent Ed25519 (PyNaCl)


def test_pynacl_verifies_molink_note_signatures() -> None:
    signer = fixed_signer("log.example/nacl")
    encoded = sign_note("hello\n", [signer])
    sig = parse_note(encoded).signatures[0]
    nacl.signing.VerifyKey(signer.public_key).verify(b"hello\n", sig.signature)
    assert nacl.signing.SigningKey(signer.seed).verify_key.encode() == signer.public_key


def test_molink_verifies_pynacl_note_signatures() -> None:
    nacl_key = nacl.signing.SigningKey(hashlib.sha256(b"nacl").digest())
    pub = nacl_key.verify_key.encode()
    verifier = Ed25519Verifier("nacl.example", pub)
    raw = nacl_key.sign(b"from nacl\n").signature
    line = NoteSignature("nacl.example", verifier.key_id, raw).line()
    opened = open_note("from nacl\n\n" + line, [verifier])
    assert opened.verified[0].signature == raw


# ------------------------------------------------------------- molink's own vectors


def molink_vectors() -> dict[str, object]:
    a, b = fixed_signer("log.molink.example/US"), fixed_signer("log.molink.example/RU")
    text = "log.molink.example/US\n1\nbm90IGEgcmVhbCByb290IGhhc2ggYnV0IGEgdGVzdCE=\nünïcødé\n"
    return {
        "description": "Generated by tests/unit/test_note.py::molink_vectors from fixed seeds "
        "sha256('molink test key <name>'); regenerate with MOLINK_REGENERATE_VECTORS=1.",
        "signers": {s.name: {"skey": s.skey, "vkey": s.vkey} for s in (a, b)},
        "text": text,
        "signed_note": sign_note(text, [a, b]),
    }


def test_molink_vectors_are_current() -> None:
    path = VECTOR_DIR / "signed_note_molink.json"
    fresh = molink_vectors()
    if os.environ.get("MOLINK_REGENERATE_VECTORS") == "1":
        path.write_text(json.dumps(fresh, indent=2, ensure_ascii=False) + "\n")
    stored = json.loads(path.read_text())
    assert stored == fresh
    verifiers = [Ed25519Verifier.from_vkey(v["vkey"]) for v in stored["signers"].values()]
    assert len(open_note(stored["signed_note"], verifiers).verified) == 2


# ------------------------------------------------------------------------- fuzzing

_note_alphabet = st.sampled_from(["\n", "—", " ", "+", "=", "a", "Z", "0", "/", "é", "\x00"])


@settings(max_examples=400, deadline=None)
@given(data=st.binary(max_size=300))
def test_random_bytes_raise_only_molink_errors(data: bytes) -> None:
    for call in (lambda: open_note(data, [PETER]), lambda: parse_note(data)):
        with contextlib.suppress(MolinkError):
            call()


@settings(max_examples=400, deadline=None)
@given(data=st.text(_note_alphabet, max_size=200))
def test_note_shaped_text_raises_only_molink_errors(data: str) -> None:
    for call in (
        lambda: open_note(TEXT + "\n" + data, [PETER]),
        lambda: open_note(data, [PETER]),
        lambda: parse_signature_lines(data),
    ):
        with contextlib.suppress(MolinkError):
            call()


@settings(max_examples=300, deadline=None)
@given(data=st.text(max_size=120))
def test_key_strings_raise_only_molink_errors(data: str) -> None:
    for call in (
        lambda: VerifierKey.parse(data),
        lambda: Ed25519Verifier.from_vkey(data),
        lambda: Ed25519Signer.from_skey(data),
        lambda: Ed25519Signer.from_skey("PRIVATE+KEY+" + data),
    ):
        with contextlib.suppress(MolinkError):
            call()


def test_exported_members() -> None:
    assert set(note_module.__all__) == {
        "MAX_NOTE_SIZE",
        "MAX_SIGNATURES",
        "SIG_TYPE_ED25519",
        "Ed25519Signer",
        "Ed25519Verifier",
        "Note",
        "NoteSignature",
        "NoteSigner",
        "NoteVerifier",
        "OpenedNote",
        "SeedSigner",
        "VerifierKey",
        "format_signer_key",
        "is_valid_key_name",
        "key_id",
        "open_note",
        "parse_note",
        "parse_signature_lines",
        "parse_signer_key",
        "sign_note",
    }
