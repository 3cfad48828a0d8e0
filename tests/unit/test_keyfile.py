"""Passphrase-encrypted key files (molink/core/keyfile.py). scrypt n=2^14 keeps them quick."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from molink.core.b64 import b64url_decode, b64url_encode
from molink.core.canonical import canonical_json
from molink.core.keyfile import FORMAT, decrypt_keyfile, encrypt_keyfile
from molink.errors import KeyFileError, WrongPassphrase
from tests.vectors import generate
from tests.vectors.generate import drbg, fixed_keys

N = 2**14
KEYS = fixed_keys("US")
PASSPHRASE = "correct horse battery staple"
FILE = encrypt_keyfile(KEYS, PASSPHRASE, n=N, random=drbg("keyfile-test"))


def _body(data: bytes = FILE) -> dict[str, Any]:
    return dict(json.loads(data))


def _dump(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


def test_round_trip() -> None:
    keys = decrypt_keyfile(FILE, PASSPHRASE)
    assert keys.party == "US"
    assert keys.seeds() == KEYS.seeds()
    assert keys.public == KEYS.public


def test_file_format() -> None:
    assert FILE.endswith(b"\n")
    body = _body()
    assert canonical_json(body) + b"\n" == FILE
    assert set(body) == {"format", "party", "kdf", "enc", "nonce", "ciphertext"}
    assert body["format"] == FORMAT == "molink-keyfile/1"
    assert body["enc"] == "A256GCM"
    assert body["kdf"]["alg"] == "scrypt"
    assert (body["kdf"]["n"], body["kdf"]["r"], body["kdf"]["p"]) == (N, 8, 1)
    assert len(b64url_decode(body["kdf"]["salt"])) == 16
    assert len(b64url_decode(body["nonce"])) == 12
    assert (
        len(b64url_decode(body["ciphertext"]))
        == len(b'{"enc_seed":"","sig_seed":""}') + 2 * 43 + 16
    )
    for seed in KEYS.seeds():
        assert b64url_encode(seed).encode() not in FILE
        assert seed.hex().encode() not in FILE


def test_fresh_salt_and_nonce_each_time() -> None:
    a, b = (encrypt_keyfile(KEYS, PASSPHRASE, n=N) for _ in range(2))
    assert _body(a)["kdf"]["salt"] != _body(b)["kdf"]["salt"]
    assert _body(a)["nonce"] != _body(b)["nonce"]
    assert decrypt_keyfile(a, PASSPHRASE).public == decrypt_keyfile(b, PASSPHRASE).public


def test_unicode_passphrase() -> None:
    data = encrypt_keyfile(KEYS, "пароль — 密码", n=N)
    assert decrypt_keyfile(data, "пароль — 密码").public == KEYS.public
    with pytest.raises(WrongPassphrase):
        decrypt_keyfile(data, "пароль - 密码")


@pytest.mark.parametrize("wrong", ["", "correct horse battery stapl", PASSPHRASE + " ", "x"])
def test_wrong_passphrase(wrong: str) -> None:
    with pytest.raises(WrongPassphrase):
        decrypt_keyfile(FILE, wrong)


def _flip(b64: str) -> str:
    raw = bytearray(b64url_decode(b64))
    raw[0] ^= 1
    return b64url_encode(bytes(raw))


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: {**b, "party": "RU"},
        lambda b: {**b, "kdf": {**b["kdf"], "salt": _flip(b["kdf"]["salt"])}},
        lambda b: {**b, "kdf": {**b["kdf"], "n": 2**15}},
        lambda b: {**b, "nonce": _flip(b["nonce"])},
        lambda b: {**b, "ciphertext": _flip(b["ciphertext"])},
        lambda b: {**b, "comment": "added later"},
        lambda b: {**b, "enc": "A128GCM"},
    ],
    ids=["party", "salt", "n", "nonce", "ciphertext", "extra-member", "enc"],
)
def test_altered_file_is_refused(mutate: Any) -> None:
    with pytest.raises(WrongPassphrase):
        decrypt_keyfile(_dump(mutate(_body())), PASSPHRASE)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: {**b, "format": "molink-keyfile/2"},
        lambda b: {**b, "kdf": {**b["kdf"], "alg": "argon2id"}},
        lambda b: {**b, "kdf": {**b["kdf"], "r": 16}},
        lambda b: {**b, "kdf": {**b["kdf"], "p": 2}},
        lambda b: {**b, "kdf": {**b["kdf"], "n": 2**13}},
        lambda b: {**b, "kdf": {**b["kdf"], "n": 2**21}},
        lambda b: {**b, "kdf": {**b["kdf"], "n": 20_000}},
        lambda b: {**b, "kdf": {**b["kdf"], "n": "16384"}},
        lambda b: {**b, "kdf": {**b["kdf"], "salt": "!"}},
        lambda b: {**b, "kdf": "scrypt"},
        lambda b: {k: v for k, v in b.items() if k != "kdf"},
        lambda b: {k: v for k, v in b.items() if k != "nonce"},
        lambda b: {k: v for k, v in b.items() if k != "ciphertext"},
        lambda b: {**b, "nonce": 12},
        lambda b: {**b, "ciphertext": "not base64!"},
    ],
)
def test_altered_header_is_key_file_error(mutate: Any) -> None:
    with pytest.raises(KeyFileError):
        decrypt_keyfile(_dump(mutate(_body())), PASSPHRASE)


def test_regression_header_that_is_not_i_json_is_key_file_error() -> None:
    # The AAD used to be computed outside the guarded block: this leaked InvalidInput.
    text = FILE.decode().replace('"enc":"A256GCM"', '"enc":"A256GCM","x":"\\ud800"')
    with pytest.raises(KeyFileError):
        decrypt_keyfile(text.encode(), PASSPHRASE)


@pytest.mark.parametrize(
    "data", [b"", b"not json", b"[]", b"{}", b"null", b'"molink-keyfile/1"', b"\xff\xfe", b"{" * 50]
)
def test_garbage_is_key_file_error(data: bytes) -> None:
    with pytest.raises(KeyFileError) as info:
        decrypt_keyfile(data, PASSPHRASE)
    assert type(info.value) is KeyFileError


def test_encrypt_refuses_bad_parameters() -> None:
    with pytest.raises(KeyFileError):
        encrypt_keyfile(KEYS, "")
    for n in (2**13, 2**21, 3 * 2**14, 0):
        with pytest.raises(KeyFileError):
            encrypt_keyfile(KEYS, PASSPHRASE, n=n)


def test_vector_key_file_decrypts() -> None:
    vectors = json.loads(generate.PATH.read_text(encoding="utf-8"))["keyfile"]
    keys = decrypt_keyfile(vectors["file"].encode(), vectors["passphrase"])
    assert keys.public == fixed_keys(vectors["party"]).public


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_random_bytes_raise_only_key_file_errors(data: bytes) -> None:
    with pytest.raises(KeyFileError):
        decrypt_keyfile(data, PASSPHRASE)


_VALUES = st.none() | st.booleans() | st.integers(-(2**20), 2**21) | st.text(max_size=30)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(["format", "party", "enc", "nonce", "ciphertext", "kdf"]), _VALUES)
def test_altered_members_raise_only_key_file_errors(name: str, value: Any) -> None:
    with pytest.raises(KeyFileError):
        decrypt_keyfile(_dump({**_body(), name: value}), PASSPHRASE)
