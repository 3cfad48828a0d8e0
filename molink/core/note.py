"""C2SP signed-note: notes, Ed25519 note keys, and opening notes against known keys.

A signed note (c2sp.org/signed-note) is UTF-8 text ending in a newline, a blank line,
then one or more signature lines ``— <key name> base64(key ID || signature)``, where the
key ID is ``SHA-256(key name || 0x0A || type byte || public key)[:4]`` (big-endian).

This module implements signature type ``0x01`` (Ed25519 over the note text) and the
key string formats shared by the Go ``sumdb/note`` ecosystem:

* verifier key (vkey): ``<name>+<hex key ID>+base64(<type byte> || <public key>)``
* signer key (skey): ``PRIVATE+KEY+<name>+<hex key ID>+base64(<type byte> || <seed>)``

Other signature types (cosignatures, :mod:`molink.core.cosignature`) plug in through
the :class:`NoteVerifier` and :class:`NoteSigner` protocols.

Parsing is strict: canonical base64 only, at most :data:`MAX_SIGNATURES` signature lines,
at most ``max_size`` bytes, no control characters but newline. Parsers raise only
``MalformedData``; verification failures raise ``SignatureInvalid``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Protocol, Self

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from molink.core.b64 import b64decode, b64encode
from molink.errors import ConfigError, InvalidInput, MalformedData, SignatureInvalid

__all__ = [
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
]

SIG_TYPE_ED25519 = 0x01
"""Signature type byte of plain Ed25519 note signatures (c2sp.org/signed-note)."""

MAX_SIGNATURES = 100
"""Most signature lines a note may carry (the spec's floor is 16; Go allows 100)."""

MAX_NOTE_SIZE = 256 * 1024
"""Default cap, in bytes, on an encoded note."""

_DASH = "— "  # U+2014 EM DASH, then a space.
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")
# Go's unicode.IsSpace: Latin-1 spaces plus the Unicode White_Space property.
_SPACES = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
)
_HEX8 = re.compile(r"[0-9a-f]{8}")


def is_valid_key_name(name: str) -> bool:
    """A key name is non-empty, has no Unicode space, no ``+`` and no control character."""
    return (
        isinstance(name, str)
        and name != ""
        and "+" not in name
        and not any(c in _SPACES for c in name)
        and _CONTROL.search(name) is None
    )


def key_id(name: str, type_and_key: bytes) -> int:
    """``SHA-256(name || 0x0A || type byte || public key)[:4]`` as a big-endian uint32."""
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + type_and_key).digest()
    return int.from_bytes(digest[:4], "big")


# ------------------------------------------------------------------------ signatures


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One signature line: key name, key ID and the signature bytes after the key ID."""

    name: str
    key_id: int
    signature: bytes

    def __post_init__(self) -> None:
        if not is_valid_key_name(self.name):
            raise MalformedData(f"invalid key name {self.name!r}")
        if not 0 <= self.key_id < 2**32 or not self.signature:
            raise MalformedData("signature needs a uint32 key ID and at least one byte")

    @property
    def base64(self) -> str:
        """``base64(key ID || signature)``, as written on the line."""
        return b64encode(self.key_id.to_bytes(4, "big") + self.signature)

    def line(self) -> str:
        """The signature line, with its final newline."""
        return f"{_DASH}{self.name} {self.base64}\n"

    @classmethod
    def parse_line(cls, line: str) -> NoteSignature:
        """Parse one signature line, without its final newline."""
        if not line.startswith(_DASH):
            raise MalformedData("signature line does not start with an em dash and a space")
        name, sep, encoded = line[len(_DASH) :].partition(" ")
        if not sep or not encoded or not is_valid_key_name(name):
            raise MalformedData("malformed signature line")
        raw = b64decode(encoded)
        if len(raw) < 5:
            raise MalformedData("signature is shorter than a key ID and one byte")
        return cls(name, int.from_bytes(raw[:4], "big"), raw[4:])


def parse_signature_lines(data: bytes | str) -> tuple[NoteSignature, ...]:
    """Parse a block of signature lines (e.g. a tlog-witness response body).

    Every line must end in a newline; at most :data:`MAX_SIGNATURES` lines.
    """
    return _parse_lines(_decode(data, MAX_NOTE_SIZE))


def _parse_lines(text: str) -> tuple[NoteSignature, ...]:
    if not text.endswith("\n"):
        raise MalformedData("signature block must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedData(f"more than {MAX_SIGNATURES} signatures")
    return tuple(NoteSignature.parse_line(line) for line in lines)


# ----------------------------------------------------------------------------- notes


def _decode(data: bytes | str, max_size: int) -> str:
    if isinstance(data, str):
        try:
            raw = data.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise MalformedData("note is not valid UTF-8") from exc
        text = data
    else:
        raw = bytes(data)
        if len(raw) > max_size:
            raise MalformedData(f"note is larger than {max_size} bytes")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedData("note is not valid UTF-8") from exc
    if len(raw) > max_size:
        raise MalformedData(f"note is larger than {max_size} bytes")
    if _CONTROL.search(text):
        raise MalformedData("note contains a control character other than newline")
    return text


def _check_text(text: str) -> None:
    if not isinstance(text, str) or not text.endswith("\n"):
        raise MalformedData("note text must end with a newline")
    _decode(text, MAX_NOTE_SIZE)


@dataclass(frozen=True, slots=True)
class Note:
    """A parsed note: its text (with final newline) and signatures, in order.

    The signatures are NOT verified: use :func:`open_note` to trust a note.
    """

    text: str
    signatures: tuple[NoteSignature, ...]

    def __post_init__(self) -> None:
        _check_text(self.text)

    def format(self) -> str:
        """The encoded note: text, blank line, one line per signature."""
        return self.text + "\n" + "".join(s.line() for s in self.signatures)

    def with_signatures(self, signatures: Iterable[NoteSignature]) -> Note:
        """A copy with ``signatures`` added; each replaces any by the same key."""
        new = tuple(signatures)
        keys = {(s.name, s.key_id) for s in new}
        kept = tuple(s for s in self.signatures if (s.name, s.key_id) not in keys)
        out = kept + new
        if len(out) > MAX_SIGNATURES:
            raise InvalidInput(f"a note carries at most {MAX_SIGNATURES} signatures")
        return Note(self.text, out)


def parse_note(data: bytes | str, *, max_size: int = MAX_NOTE_SIZE) -> Note:
    """Parse an encoded note without verifying anything (c2sp.org/signed-note).

    Raises:
        MalformedData: not UTF-8, a control character, no blank line before the
            signatures, a bad signature line, or too many or too large.
    """
    text = _decode(data, max_size)
    split = text.rfind("\n\n")
    if split < 0:
        raise MalformedData("note has no blank line before its signatures")
    body, block = text[: split + 1], text[split + 2 :]
    if not block:
        raise MalformedData("note has no signature")
    return Note(body, _parse_lines(block))


# ------------------------------------------------------------------------- protocols


class NoteVerifier(Protocol):
    """Checks signatures of one key; ``name`` and ``key_id`` select the lines it checks."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> int: ...

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether ``signature`` (without the key ID) is valid for ``message``."""
        ...


class NoteSigner(Protocol):
    """Signs note texts with one key."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> int: ...

    def sign(self, message: bytes) -> bytes:
        """The signature bytes (without the key ID) over ``message``."""
        ...


# ---------------------------------------------------------------------- key strings


@dataclass(frozen=True, slots=True)
class VerifierKey:
    """A parsed verifier key string ``name+hex(key ID)+base64(type || public key)``."""

    name: str
    key_type: int
    public_key: bytes

    def __post_init__(self) -> None:
        if not is_valid_key_name(self.name):
            raise MalformedData(f"invalid key name {self.name!r}")
        if not 0 <= self.key_type <= 0xFF or not self.public_key:
            raise MalformedData("verifier key needs a type byte and key material")

    @property
    def key_id(self) -> int:
        return key_id(self.name, bytes([self.key_type]) + self.public_key)

    def __str__(self) -> str:
        material = b64encode(bytes([self.key_type]) + self.public_key)
        return f"{self.name}+{self.key_id:08x}+{material}"

    @classmethod
    def parse(cls, vkey: str) -> VerifierKey:
        """Parse a vkey; the key ID must match the name and key material."""
        if not isinstance(vkey, str):
            raise MalformedData("verifier key must be a string")
        name, _, rest = vkey.partition("+")
        hex_id, _, material = rest.partition("+")
        if not _HEX8.fullmatch(hex_id) or not is_valid_key_name(name):
            raise MalformedData("malformed verifier key")
        raw = b64decode(material)
        if len(raw) < 2:
            raise MalformedData("verifier key has no key material")
        parsed = cls(name, raw[0], raw[1:])
        if parsed.key_id != int(hex_id, 16):
            raise MalformedData("verifier key ID does not match its name and key")
        return parsed


def parse_signer_key(skey: str) -> tuple[str, int, int, bytes]:
    """Parse ``PRIVATE+KEY+name+hex+base64(type || secret)`` into its four parts.

    The key ID is checked by the caller, who derives the public key. Raises
    ``ConfigError`` (signer keys are local secrets); never echoes the secret.
    """
    parts = skey.split("+", 4) if isinstance(skey, str) else []
    if len(parts) != 5 or parts[0] != "PRIVATE" or parts[1] != "KEY":
        raise ConfigError("malformed signer key")
    name, hex_id, material = parts[2], parts[3], parts[4]
    if not _HEX8.fullmatch(hex_id) or not is_valid_key_name(name):
        raise ConfigError("malformed signer key")
    try:
        raw = b64decode(material)
    except MalformedData as exc:
        raise ConfigError("malformed signer key") from exc
    if len(raw) < 2:
        raise ConfigError("malformed signer key")
    return name, int(hex_id, 16), raw[0], raw[1:]


def format_signer_key(name: str, key_type: int, key_id_: int, secret: bytes) -> str:
    """Encode a signer key string (keep it secret)."""
    material = b64encode(bytes([key_type]) + secret)
    return f"PRIVATE+KEY+{name}+{key_id_:08x}+{material}"


def _ed25519_public(public_key: bytes) -> Ed25519PublicKey:
    if len(public_key) != 32:
        raise MalformedData("an Ed25519 public key is 32 bytes")
    try:
        return Ed25519PublicKey.from_public_bytes(public_key)
    except ValueError as exc:
        raise MalformedData("invalid Ed25519 public key") from exc


# ------------------------------------------------------------------------ Ed25519 keys


@dataclass(frozen=True, slots=True)
class Ed25519Verifier:
    """Verifies type ``0x01`` note signatures: Ed25519 over the note text."""

    name: str
    public_key: bytes
    key_id: int = field(init=False)
    _key: Ed25519PublicKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        vkey = VerifierKey(self.name, SIG_TYPE_ED25519, self.public_key)
        object.__setattr__(self, "_key", _ed25519_public(self.public_key))
        object.__setattr__(self, "key_id", vkey.key_id)

    @classmethod
    def from_vkey(cls, vkey: str) -> Ed25519Verifier:
        """Build from a verifier key string; raises ``MalformedData``."""
        parsed = VerifierKey.parse(vkey)
        if parsed.key_type != SIG_TYPE_ED25519:
            raise MalformedData(f"not an Ed25519 note key (type {parsed.key_type:#04x})")
        return cls(parsed.name, parsed.public_key)

    @property
    def vkey(self) -> str:
        return str(VerifierKey(self.name, SIG_TYPE_ED25519, self.public_key))

    def verify(self, message: bytes, signature: bytes) -> bool:
        if len(signature) != 64:
            return False
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True, slots=True)
class SeedSigner:
    """An Ed25519 seed under a key name, for one signature type. ``repr`` hides the seed.

    The common part of note signers (type ``0x01``, here) and witness cosigners (type
    ``0x04``, ``molink.core.cosignature``): the key ID binds the name, the type byte and
    the public key (c2sp.org/signed-note), and the signer key string carries the seed.
    """

    SIG_TYPE: ClassVar[int]
    KIND: ClassVar[str]  # for errors: "not {KIND} signer key"

    name: str
    seed: bytes = field(repr=False)
    public_key: bytes = field(init=False)
    key_id: int = field(init=False)
    _key: Ed25519PrivateKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not is_valid_key_name(self.name):
            raise InvalidInput(f"invalid key name {self.name!r}")
        if not isinstance(self.seed, bytes) or len(self.seed) != 32:
            raise InvalidInput("an Ed25519 seed is 32 bytes")
        key = Ed25519PrivateKey.from_private_bytes(self.seed)
        public = key.public_key().public_bytes_raw()
        object.__setattr__(self, "_key", key)
        object.__setattr__(self, "public_key", public)
        object.__setattr__(self, "key_id", key_id(self.name, bytes([self.SIG_TYPE]) + public))

    @classmethod
    def generate(cls, name: str, random_bytes: Callable[[int], bytes]) -> Self:
        """A new key from ``random_bytes`` (e.g. ``os.urandom``)."""
        return cls(name, random_bytes(32))

    @classmethod
    def from_skey(cls, skey: str) -> Self:
        """Build from ``PRIVATE+KEY+name+hex+base64(type || seed)``; raises ``ConfigError``."""
        name, hex_id, key_type, secret = parse_signer_key(skey)
        if key_type != cls.SIG_TYPE or len(secret) != 32:
            raise ConfigError(f"not {cls.KIND} signer key")
        signer = cls(name, secret)
        if signer.key_id != hex_id:
            raise ConfigError("signer key ID does not match its name and key")
        return signer

    @property
    def skey(self) -> str:
        """The signer key string (secret)."""
        return format_signer_key(self.name, self.SIG_TYPE, self.key_id, self.seed)


@dataclass(frozen=True, slots=True)
class Ed25519Signer(SeedSigner):
    """Signs notes with type ``0x01`` Ed25519 signatures."""

    SIG_TYPE: ClassVar[int] = SIG_TYPE_ED25519
    KIND: ClassVar[str] = "an Ed25519 note"

    @property
    def vkey(self) -> str:
        return self.verifier().vkey

    def verifier(self) -> Ed25519Verifier:
        return Ed25519Verifier(self.name, self.public_key)

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)


# ------------------------------------------------------------------- sign and open


def sign_note(
    text: str, signers: Sequence[NoteSigner], *, keep: Iterable[NoteSignature] = ()
) -> str:
    """Sign ``text`` (which must end in a newline) and return the encoded note.

    Signatures in ``keep`` come first, except those by a key in ``signers``.
    """
    note = Note(text, ())
    message = text.encode("utf-8")
    new = [NoteSignature(s.name, s.key_id, s.sign(message)) for s in signers]
    return note.with_signatures(keep).with_signatures(new).format()


@dataclass(frozen=True, slots=True)
class OpenedNote:
    """A note whose signatures by known keys all verified (at least one did).

    Attributes:
        note: the note as received.
        verified: signatures by known keys, each verified, one per key.
        unverified: signatures by unknown keys (duplicates dropped), NOT checked.
    """

    note: Note
    verified: tuple[NoteSignature, ...]
    unverified: tuple[NoteSignature, ...]

    @property
    def text(self) -> str:
        return self.note.text


def open_note(
    data: bytes | str, verifiers: Iterable[NoteVerifier], *, max_size: int = MAX_NOTE_SIZE
) -> OpenedNote:
    """Parse a note and verify its signatures by known keys (c2sp.org/signed-note).

    Signatures by unknown keys are ignored; a known key's bad signature rejects the whole
    note, and so does a note with no signature by a known key.

    Raises:
        MalformedData: the note cannot be parsed.
        SignatureInvalid: a known key's signature fails, or no known key signed.
        ConfigError: two of ``verifiers`` share a name and key ID and one is needed.
    """
    note = parse_note(data, max_size=max_size)
    known: dict[tuple[str, int], list[NoteVerifier]] = {}
    for v in verifiers:
        known.setdefault((v.name, v.key_id), []).append(v)
    message = note.text.encode("utf-8")
    verified: dict[tuple[str, int], NoteSignature] = {}
    unverified: dict[NoteSignature, None] = {}
    for sig in note.signatures:
        key = (sig.name, sig.key_id)
        candidates = known.get(key)
        if candidates is None:
            unverified.setdefault(sig)
            continue
        if len(candidates) > 1:
            raise ConfigError(f"ambiguous key {sig.name}+{sig.key_id:08x}")
        if key in verified:
            continue
        if not candidates[0].verify(message, sig.signature):
            raise SignatureInvalid(
                f"invalid signature for key {sig.name}+{sig.key_id:08x}",
                evidence={"note": note.format(), "key": f"{sig.name}+{sig.key_id:08x}"},
            )
        verified[key] = sig
    if not verified:
        raise SignatureInvalid(
            "note has no signature by a known key",
            evidence={"note": note.format(), "signers": sorted({s.name for s in unverified})},
        )
    return OpenedNote(note, tuple(verified.values()), tuple(unverified))
