"""C2SP tlog-checkpoint: a log's signed tree head, carried in a signed note.

The note text (c2sp.org/tlog-checkpoint) is::

    <origin>\\n
    <tree size, decimal, no leading zeros>\\n
    <base64 RFC 6962 root hash>\\n
    [<extension line>\\n ...]

Parsing is strict and canonical: a text that parses is byte-for-byte what
:meth:`Checkpoint.body` writes back, so signing or cosigning ``body()`` signs exactly the
bytes that were received.

Typical use::

    signed = sign_checkpoint(Checkpoint(origin=origin, size=n, root_hash=r), log_signer)
    cp = open_checkpoint(signed, [log_verifier], origin=origin).checkpoint
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from molink.core.b64 import b64decode, b64encode
from molink.core.merkle import HASH_SIZE, MAX_TREE_SIZE
from molink.core.note import (
    MAX_NOTE_SIZE,
    NoteSignature,
    NoteSigner,
    NoteVerifier,
    OpenedNote,
    open_note,
    parse_note,
    sign_note,
)
from molink.errors import InvalidInput, MalformedData, SignatureInvalid

__all__ = [
    "MAX_EXTENSION_LINES",
    "Checkpoint",
    "SignedCheckpoint",
    "open_checkpoint",
    "parse_size",
    "peek_origin",
    "sign_checkpoint",
]

MAX_EXTENSION_LINES = 16
"""Most extension lines accepted (extension lines are NOT RECOMMENDED by the spec)."""

_SIZE = re.compile(r"0|[1-9][0-9]{0,18}")
_CONTROL = re.compile(r"[\x00-\x1f]")


def parse_size(text: str) -> int:
    """Parse a tree size: ASCII decimal, no leading zeros, at most ``2**63 - 1``.

    Raises:
        MalformedData: anything else.
    """
    if not isinstance(text, str) or not _SIZE.fullmatch(text):
        raise MalformedData(f"invalid tree size {text[:32]!r}")
    value = int(text)
    if value > MAX_TREE_SIZE:
        raise MalformedData("tree size is larger than 2**63 - 1")
    return value


def _check_line(what: str, line: str) -> None:
    if not isinstance(line, str) or not line or _CONTROL.search(line):
        raise InvalidInput(f"checkpoint {what} must be a non-empty line without control chars")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A checkpoint's content (c2sp.org/tlog-checkpoint). Invalid values cannot exist.

    Attributes:
        origin: the log's unique identity, a non-empty line.
        size: number of leaves, ``0 <= size < 2**63``.
        root_hash: the 32-byte RFC 6962 root of the tree of ``size`` leaves.
        extensions: opaque non-empty extra lines (NOT RECOMMENDED; not auditable).
    """

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line("origin", self.origin)
        if not isinstance(self.size, int) or isinstance(self.size, bool):
            raise InvalidInput("checkpoint size must be an int")
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise InvalidInput(f"checkpoint size {self.size} is out of range")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != HASH_SIZE:
            raise InvalidInput(f"checkpoint root hash must be {HASH_SIZE} bytes")
        if not isinstance(self.extensions, tuple) or len(self.extensions) > MAX_EXTENSION_LINES:
            raise InvalidInput(f"at most {MAX_EXTENSION_LINES} extension lines, as a tuple")
        for line in self.extensions:
            _check_line("extension line", line)

    def text(self) -> str:
        """The note text: origin, size, base64 root and extension lines, each with ``\\n``."""
        lines = [self.origin, str(self.size), b64encode(self.root_hash), *self.extensions]
        return "".join(line + "\n" for line in lines)

    def body(self) -> bytes:
        """The note text as UTF-8 bytes: what the log signs and a witness cosigns."""
        return self.text().encode("utf-8")

    @classmethod
    def parse(cls, body: bytes | str) -> Checkpoint:
        """Parse a checkpoint note text strictly (no signature lines).

        Raises:
            MalformedData: not UTF-8, fewer than three lines, an empty line, a bad size
                or root hash, a control character, or too many extension lines.
        """
        if len(body) > MAX_NOTE_SIZE:
            raise MalformedData("checkpoint is too large")
        if isinstance(body, str):
            text = body
        else:
            try:
                text = bytes(body).decode("utf-8")
            except UnicodeDecodeError as exc:
                raise MalformedData("checkpoint is not valid UTF-8") from exc
        if not text.endswith("\n"):
            raise MalformedData("checkpoint text must end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise MalformedData("checkpoint has fewer than three lines")
        origin, size, root_b64, *extensions = lines
        root_hash = b64decode(root_b64)
        if len(root_hash) != HASH_SIZE:
            raise MalformedData(f"checkpoint root hash is not {HASH_SIZE} bytes")
        try:
            return cls(origin, parse_size(size), root_hash, tuple(extensions))
        except InvalidInput as exc:
            raise MalformedData(f"invalid checkpoint: {exc.message}") from exc


@dataclass(frozen=True, slots=True)
class SignedCheckpoint:
    """A checkpoint whose note was opened against the log's key(s).

    Attributes:
        checkpoint: the parsed content.
        opened: the opened note; ``opened.verified`` holds the log's signature(s),
            ``opened.unverified`` everything else (e.g. cosignatures, not yet checked).
        raw: the signed note exactly as received.
    """

    checkpoint: Checkpoint
    opened: OpenedNote
    raw: str

    def with_signatures(self, signatures: Iterable[NoteSignature]) -> str:
        """The signed note with ``signatures`` added (each replaces one by the same key)."""
        return self.opened.note.with_signatures(signatures).format()


def sign_checkpoint(
    checkpoint: Checkpoint,
    signer: NoteSigner,
    *,
    keep: Iterable[NoteSignature] = (),
) -> str:
    """Sign a checkpoint with the log key; the key name must equal the origin.

    ``keep`` carries signatures to keep (e.g. cosignatures); one by ``signer`` is replaced.
    """
    if signer.name != checkpoint.origin:
        raise InvalidInput(
            f"log key name {signer.name!r} differs from origin {checkpoint.origin!r}"
        )
    return sign_note(checkpoint.text(), [signer], keep=keep)


def open_checkpoint(
    data: bytes | str,
    verifiers: Iterable[NoteVerifier],
    *,
    origin: str | None = None,
) -> SignedCheckpoint:
    """Verify a signed checkpoint against the log's key(s) and parse it.

    Args:
        data: the signed note as received.
        verifiers: the log's verifier(s); other signatures stay unverified.
        origin: if given, the origin the checkpoint must carry.

    Raises:
        MalformedData: the note or the checkpoint cannot be parsed.
        SignatureInvalid: no valid signature by a given key, or another origin.
    """
    if len(data) > MAX_NOTE_SIZE:
        raise MalformedData("signed checkpoint is too large")
    if isinstance(data, bytes):
        try:
            raw = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedData("checkpoint note is not valid UTF-8") from exc
    else:
        raw = data
    opened = open_note(raw, verifiers)
    checkpoint = Checkpoint.parse(opened.text)
    if origin is not None and checkpoint.origin != origin:
        raise SignatureInvalid(
            f"checkpoint is for origin {checkpoint.origin!r}, expected {origin!r}",
            evidence={"checkpoint": raw, "expected_origin": origin},
        )
    return SignedCheckpoint(checkpoint, opened, raw)


def peek_origin(data: bytes | str) -> str:
    """The origin of a signed checkpoint, NOT verified: only to pick the keys to verify it.

    Raises:
        MalformedData: the note or the checkpoint cannot be parsed.
    """
    return Checkpoint.parse(parse_note(data).text).origin
