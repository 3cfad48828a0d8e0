"""The evidence bundle's container: file names, limits, the zip, and the manifest.

An evidence bundle (docs/formats.md "Evidence bundle") is a zip of plain files. This
module knows where each file lives and how the manifest reads; what the files prove is
checked by :mod:`molink.core.evidence`.

Reading a bundle never touches a file system and cannot be steered by it: entry names
must match ``[A-Za-z0-9._%-]+(/[A-Za-z0-9._%-]+)*`` with no ``.`` or ``..`` segment (so no
absolute path, no backslash, no drive letter, no traversal), names are unique, and the
number of files and the bytes they inflate to are capped *while* inflating, whatever the
zip's headers claim (zip bombs).
"""

from __future__ import annotations

import io
import json
import re
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from molink.core.canonical import parse_json
from molink.core.ids import is_uuid
from molink.core.keys import is_party_id
from molink.core.note import is_valid_key_name
from molink.errors import MalformedData

__all__ = [
    "BUNDLE_FORMAT",
    "BUNDLE_VERSION",
    "MANIFEST",
    "MAX_BUNDLE_BYTES",
    "MAX_BUNDLE_FILES",
    "MAX_FILE_BYTES",
    "BundleAck",
    "BundleLog",
    "BundleMessage",
    "Manifest",
    "Selection",
    "ack_path",
    "check_name",
    "checkpoint_path",
    "consistency_path",
    "entries_path",
    "jwks_path",
    "log_vkey_path",
    "message_path",
    "parse_manifest",
    "path_name",
    "read_bundle",
    "receipt_path",
    "witness_vkey_path",
    "write_bundle",
]

BUNDLE_FORMAT = "molink-evidence"
BUNDLE_VERSION = 1
MANIFEST = "manifest.json"

MAX_BUNDLE_FILES = 100_000
"""Most files a bundle may hold (directory entries included)."""

MAX_BUNDLE_BYTES = 256 * 1024 * 1024
"""Most bytes a bundle may inflate to, all files together (also caps the zip itself)."""

MAX_FILE_BYTES = 64 * 1024 * 1024
"""Most bytes one file may inflate to."""

_NAME = re.compile(r"[A-Za-z0-9._%-]+(?:/[A-Za-z0-9._%-]+)*")
_MAX_NAME = 512
_MAX_DEPTH = 8
_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_CHUNK = 64 * 1024


# ------------------------------------------------------------------------------ names


def path_name(name: str) -> str:
    """A log origin or witness name as one path segment.

    UTF-8 bytes outside ``[A-Za-z0-9._-]`` are written ``%XX`` (upper-case hex), and so
    is a leading ``.``: ``molink.local/US/3f2a`` becomes ``molink.local%2FUS%2F3f2a``.
    """
    out = []
    for i, byte in enumerate(name.encode("utf-8")):
        char = chr(byte)
        out.append(char if char in _SAFE and not (i == 0 and char == ".") else f"%{byte:02X}")
    return "".join(out)


def message_path(message_id: str) -> str:
    return f"messages/{message_id}.jws"


def receipt_path(object_id: str, party: str) -> str:
    return f"receipts/{object_id}.{party}.jws"


def ack_path(ack_id: str) -> str:
    return f"acks/{ack_id}.jws"


def checkpoint_path(origin: str) -> str:
    return f"log/{path_name(origin)}/checkpoint"


def entries_path(origin: str) -> str:
    return f"log/{path_name(origin)}/entries.json"


def consistency_path(origin: str) -> str:
    return f"log/{path_name(origin)}/consistency.json"


def jwks_path(party: str) -> str:
    return f"keys/jwks/{party}.json"


def log_vkey_path(origin: str) -> str:
    return f"keys/log/{path_name(origin)}.vkey"


def witness_vkey_path(name: str) -> str:
    return f"keys/witness/{path_name(name)}.vkey"


def check_name(name: str) -> None:
    """Refuse any entry name a bundle may not hold (traversal, absolute, backslash...).

    Raises:
        MalformedData: the name is not a plain relative path of safe segments.
    """
    if not isinstance(name, str) or len(name) > _MAX_NAME or not _NAME.fullmatch(name):
        raise MalformedData(f"bundle entry name {name!r} is not allowed")
    segments = name.split("/")
    if len(segments) > _MAX_DEPTH or any(s in (".", "..") for s in segments):
        raise MalformedData(f"bundle entry name {name!r} is not allowed")


# -------------------------------------------------------------------------------- zip


def read_bundle(
    data: bytes,
    *,
    max_files: int = MAX_BUNDLE_FILES,
    max_bytes: int = MAX_BUNDLE_BYTES,
    max_file_bytes: int = MAX_FILE_BYTES,
) -> dict[str, bytes]:
    """Read a bundle zip into ``{name: content}``, in memory, within the limits.

    Directory entries are checked and dropped. Sizes are counted while inflating, so a
    zip that lies about its sizes cannot exceed the caps.

    Raises:
        MalformedData: not a zip, an unsafe or duplicate name, an encrypted entry, too
            many files or bytes, or a corrupt entry (bad CRC, bad deflate stream).
    """
    if len(data) > max_bytes:
        raise MalformedData(f"bundle is larger than {max_bytes} bytes")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            if len(infos) > max_files:
                raise MalformedData(f"bundle holds more than {max_files} files")
            return _read_entries(archive, infos, max_bytes, max_file_bytes)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
        raise MalformedData(f"bundle is not a readable zip: {exc}") from exc
    except (RuntimeError, NotImplementedError) as exc:  # encrypted, unknown compression
        raise MalformedData(f"bundle entry cannot be read: {exc}") from exc


def _read_entries(
    archive: zipfile.ZipFile, infos: Sequence[zipfile.ZipInfo], max_bytes: int, max_file: int
) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    total = 0
    for info in infos:
        name = info.orig_filename
        if info.is_dir():
            check_name(name.rstrip("/"))
            continue
        check_name(name)
        if name != info.filename or name in out:
            raise MalformedData(f"bundle entry {name!r} is duplicated or ambiguous")
        if info.flag_bits & 0x1:
            raise MalformedData(f"bundle entry {name!r} is encrypted")
        if info.file_size > max_file or total + info.file_size > max_bytes:
            raise MalformedData(f"bundle entry {name!r} is too large")
        chunks: list[bytes] = []
        size = 0
        with archive.open(info) as stream:
            while chunk := stream.read(_CHUNK):
                size += len(chunk)
                if size > max_file or total + size > max_bytes:
                    raise MalformedData(f"bundle entry {name!r} inflates beyond the limit")
                chunks.append(chunk)
        total += size
        out[name] = b"".join(chunks)
    return out


def write_bundle(files: Mapping[str, bytes], *, when: datetime) -> bytes:
    """Write files as a deterministic zip (sorted names, one timestamp, deflate)."""
    utc = when.astimezone(UTC)
    stamp = (max(utc.year, 1980), utc.month, utc.day, utc.hour, utc.minute, utc.second)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            check_name(name)
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, files[name])
    return buffer.getvalue()


# --------------------------------------------------------------------------- manifest


@dataclass(frozen=True, slots=True)
class Selection:
    """What the exporter was asked for (informative)."""

    ids: tuple[str, ...] | None = None
    since: str | None = None
    until: str | None = None


@dataclass(frozen=True, slots=True)
class BundleAck:
    """An acknowledgement (``acks/<id>.jws``) and the parties whose receipt for it is held."""

    id: str
    receipts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BundleMessage:
    """A signed object: disclosed (``messages/<id>.jws``) or known by its SHA-256 only."""

    id: str
    jws_sha256: str
    disclosed: bool = True
    receipts: tuple[str, ...] = ()
    acks: tuple[BundleAck, ...] = ()


@dataclass(frozen=True, slots=True)
class BundleLog:
    """A log the bundle speaks of; ``included`` False says why its material is absent."""

    origin: str
    party: str
    included: bool = True
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Manifest:
    """``manifest.json``: an unsigned index of what the bundle holds.

    Nothing in it is trusted: every claim the report makes comes from a signature.
    """

    exporter: str
    created: str
    selection: Selection = field(default_factory=Selection)
    parties: tuple[str, ...] = ()
    messages: tuple[BundleMessage, ...] = ()
    logs: tuple[BundleLog, ...] = ()
    witnesses: tuple[str, ...] = ()

    def to_json(self) -> bytes:
        body: dict[str, Any] = {
            "format": BUNDLE_FORMAT,
            "version": BUNDLE_VERSION,
            "exporter": self.exporter,
            "created": self.created,
            "selection": {
                "ids": None if self.selection.ids is None else list(self.selection.ids),
                "since": self.selection.since,
                "until": self.selection.until,
            },
            "parties": list(self.parties),
            "messages": [_message_json(m) for m in self.messages],
            "logs": [_log_json(log) for log in self.logs],
            "witnesses": list(self.witnesses),
        }
        return (json.dumps(body, indent=2, ensure_ascii=False) + "\n").encode("utf-8")

    def files(self) -> set[str]:
        """Every file this manifest says the bundle holds."""
        out = {MANIFEST}
        out |= {jwks_path(p) for p in self.parties}
        out |= {witness_vkey_path(w) for w in self.witnesses}
        for log in self.logs:
            if log.included:
                origin = log.origin
                out |= {checkpoint_path(origin), entries_path(origin), consistency_path(origin)}
                out.add(log_vkey_path(origin))
        for m in self.messages:
            if m.disclosed:
                out.add(message_path(m.id))
            out |= {receipt_path(m.id, p) for p in m.receipts}
            for ack in m.acks:
                out.add(ack_path(ack.id))
                out |= {receipt_path(ack.id, p) for p in ack.receipts}
        return out


def _message_json(m: BundleMessage) -> dict[str, Any]:
    return {
        "id": m.id,
        "jws_sha256": m.jws_sha256,
        "disclosed": m.disclosed,
        "receipts": list(m.receipts),
        "acks": [{"id": a.id, "receipts": list(a.receipts)} for a in m.acks],
    }


def _log_json(log: BundleLog) -> dict[str, Any]:
    return {
        "origin": log.origin,
        "party": log.party,
        "included": log.included,
        "reason": log.reason,
    }


# ----------------------------------------------------------------------- parsing


def _obj(value: Any, where: str, keys: set[str], optional: frozenset[str] = frozenset()) -> Any:
    if not isinstance(value, dict):
        raise MalformedData(f"manifest: {where} must be an object")
    missing = keys - set(value) - optional
    extra = set(value) - keys
    if missing or extra:
        raise MalformedData(
            f"manifest: {where} has missing {sorted(missing)} / extra {sorted(extra)}"
        )
    return value


def _list(value: Any, where: str, limit: int = MAX_BUNDLE_FILES) -> list[Any]:
    if not isinstance(value, list) or len(value) > limit:
        raise MalformedData(f"manifest: {where} must be a list")
    return value


def _str(value: Any, where: str, ok: Any = None) -> str:
    if not isinstance(value, str) or (ok is not None and not ok(value)):
        raise MalformedData(f"manifest: {where} is missing or invalid")
    return value


def _unique(values: Sequence[str], where: str) -> tuple[str, ...]:
    if len(set(values)) != len(values):
        raise MalformedData(f"manifest: {where} lists a name twice")
    return tuple(values)


def _parties(value: Any, where: str) -> tuple[str, ...]:
    return _unique([_str(p, where, is_party_id) for p in _list(value, where)], where)


def _parse_ack(value: Any) -> BundleAck:
    item = _obj(value, "ack", {"id", "receipts"})
    return BundleAck(
        id=_str(item["id"], "ack id", is_uuid), receipts=_parties(item["receipts"], "ack receipts")
    )


def _parse_message(value: Any) -> BundleMessage:
    item = _obj(value, "message", {"id", "jws_sha256", "disclosed", "receipts", "acks"})
    disclosed = item["disclosed"]
    if not isinstance(disclosed, bool):
        raise MalformedData("manifest: message 'disclosed' must be a boolean")
    acks = tuple(_parse_ack(a) for a in _list(item["acks"], "acks"))
    _unique([a.id for a in acks], "acks")
    return BundleMessage(
        id=_str(item["id"], "message id", is_uuid),
        jws_sha256=_str(item["jws_sha256"], "jws_sha256", _HEX64.fullmatch),
        disclosed=disclosed,
        receipts=_parties(item["receipts"], "receipts"),
        acks=acks,
    )


def _parse_log(value: Any) -> BundleLog:
    item = _obj(value, "log", {"origin", "party", "included", "reason"})
    included, reason = item["included"], item["reason"]
    if not isinstance(included, bool) or not (reason is None or isinstance(reason, str)):
        raise MalformedData("manifest: log 'included' must be a boolean, 'reason' a string")
    return BundleLog(
        origin=_str(item["origin"], "log origin", is_valid_key_name),
        party=_str(item["party"], "log party", is_party_id),
        included=included,
        reason=reason,
    )


def _opt_str(value: Any, where: str) -> str | None:
    return None if value is None else _str(value, where)


def _parse_selection(value: Any) -> Selection:
    item = _obj(value, "selection", {"ids", "since", "until"})
    ids = item["ids"]
    return Selection(
        ids=None if ids is None else tuple(_str(i, "selection id") for i in _list(ids, "ids")),
        since=_opt_str(item["since"], "since"),
        until=_opt_str(item["until"], "until"),
    )


def parse_manifest(data: bytes | None) -> Manifest:
    """Parse ``manifest.json`` strictly (unknown members are refused).

    Raises:
        MalformedData: missing, not JSON, another format or version, or a bad member.
    """
    if data is None:
        raise MalformedData("bundle has no manifest.json")
    top = _obj(
        parse_json(data),
        "manifest",
        {
            "format",
            "version",
            "exporter",
            "created",
            "selection",
            "parties",
            "messages",
            "logs",
            "witnesses",
        },
    )
    if top["format"] != BUNDLE_FORMAT or top["version"] != BUNDLE_VERSION:
        raise MalformedData(f"not a {BUNDLE_FORMAT} v{BUNDLE_VERSION} bundle")
    messages = tuple(_parse_message(m) for m in _list(top["messages"], "messages"))
    _unique([m.id for m in messages], "messages")
    logs = tuple(_parse_log(log) for log in _list(top["logs"], "logs"))
    _unique([log.origin for log in logs], "logs")
    witnesses = [
        _str(w, "witness", is_valid_key_name) for w in _list(top["witnesses"], "witnesses")
    ]
    return Manifest(
        exporter=_str(top["exporter"], "exporter", is_party_id),
        created=_str(top["created"], "created"),
        selection=_parse_selection(top["selection"]),
        parties=_parties(top["parties"], "parties"),
        messages=messages,
        logs=logs,
        witnesses=_unique(witnesses, "witnesses"),
    )
