"""An independent transparency-log checker: it does NOT import molink.

Written from the public specifications only, with hashlib, base64 and PyNaCl, so that a
bug shared by molink's own verifier and its log cannot hide:

* C2SP signed-note: ``text\\n\\n— <name> base64(keyID[4] || sig)`` lines; key ID is
  ``SHA-256(name || 0x0A || type || key)[:4]``; vkey ``name+hex8+base64(type || key)``.
* C2SP tlog-checkpoint: origin, decimal size, base64 root hash.
* C2SP tlog-cosignature: type 0x04, signature ``u64 BE time || Ed25519`` over
  ``"cosignature/v1\\ntime <t>\\n" || checkpoint text``.
* C2SP tlog-tiles: ``tile/<L>/<N>[.p/<W>]``, ``tile/entries/<N>[.p/<W>]``, height 8,
  index in 3-digit groups (``x001/x234/067``), entries uint16-BE length-prefixed.
* RFC 6962 §2.1 tree hash; RFC 9162 §2.1.3.2 / §2.1.4.2 proof verification.

Every failure raises ``CheckFailed``.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable

import nacl.exceptions
import nacl.signing

Fetch = Callable[[str], bytes]


class CheckFailed(Exception):
    pass


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


# ------------------------------------------------------------------------ hashing


def leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def mth(hashes: list[bytes]) -> bytes:
    """RFC 6962 MTH over already-hashed leaves (or equal-size complete subtrees)."""
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return node(mth(hashes[:k]), mth(hashes[k:]))


# ------------------------------------------------------------------- notes and keys


def parse_vkey(vkey: str) -> tuple[str, bytes, int, bytes]:
    """(name, 4-byte key ID, type byte, public key) of a vkey; checks the key ID."""
    name, key_hex, material = vkey.strip().split("+", 2)
    raw = base64.b64decode(material, validate=True)
    key_id = bytes.fromhex(key_hex)
    expect = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4]
    _require(len(key_id) == 4 and key_id == expect, f"vkey {name}: key ID does not match")
    return name, key_id, raw[0], raw[1:]


def parse_note(text: str) -> tuple[str, list[tuple[str, bytes, bytes]]]:
    """(note text with its final newline, [(name, key ID, signature)])."""
    split = text.rfind("\n\n")
    _require(split > 0 and text.endswith("\n"), "not a signed note")
    body, block = text[: split + 1], text[split + 2 :]
    sigs = []
    for line in block[:-1].split("\n"):
        _require(line.startswith("\u2014 "), f"bad signature line {line!r}")
        name, b64 = line[2:].split(" ")
        raw = base64.b64decode(b64, validate=True)
        sigs.append((name, raw[:4], raw[4:]))
    return body, sigs


def verify_note(text: str, vkey: str) -> str:
    """Check the note's Ed25519 (type 0x01) signature by ``vkey``; return the note text."""
    name, key_id, key_type, public = parse_vkey(vkey)
    _require(key_type == 0x01, "not an Ed25519 note key")
    body, sigs = parse_note(text)
    mine = [s for n, k, s in sigs if n == name and k == key_id]
    _require(len(mine) >= 1, f"no signature by {name}")
    try:
        nacl.signing.VerifyKey(public).verify(body.encode(), mine[0])
    except nacl.exceptions.BadSignatureError as exc:
        raise CheckFailed(f"bad signature by {name}") from exc
    return body


def parse_checkpoint(body: str) -> tuple[str, int, bytes]:
    lines = body[:-1].split("\n")
    _require(len(lines) >= 3, "checkpoint has fewer than three lines")
    size = int(lines[1])
    _require(str(size) == lines[1] and size >= 0, "bad checkpoint size")
    root = base64.b64decode(lines[2], validate=True)
    _require(len(root) == 32, "bad root hash")
    return lines[0], size, root


def verify_cosignature(text: str, witness_vkey: str) -> int:
    """Check the witness's cosignature/v1 line on a signed checkpoint; return its time."""
    name, key_id, key_type, public = parse_vkey(witness_vkey)
    _require(key_type == 0x04, "not a cosignature/v1 key")
    body, sigs = parse_note(text)
    mine = [s for n, k, s in sigs if n == name and k == key_id]
    _require(len(mine) == 1 and len(mine[0]) == 72, f"no cosignature by {name}")
    timestamp = int.from_bytes(mine[0][:8], "big")
    message = b"cosignature/v1\ntime " + str(timestamp).encode() + b"\n" + body.encode()
    try:
        nacl.signing.VerifyKey(public).verify(message, mine[0][8:])
    except nacl.exceptions.BadSignatureError as exc:
        raise CheckFailed(f"bad cosignature by {name}") from exc
    return timestamp


# -------------------------------------------------------------------------- tiles


def tile_path(level: int | str, index: int, width: int) -> str:
    digits = f"{index % 1000:03d}"
    index //= 1000
    while index:
        digits = f"x{index % 1000:03d}/{digits}"
        index //= 1000
    return f"tile/{level}/{digits}" + (f".p/{width}" if width < 256 else "")


def _fetch_level(fetch: Fetch, level: int, count: int) -> list[bytes]:
    """Every hash of tile level ``level`` for ``count`` nodes at tree level 8*level."""
    out: list[bytes] = []
    for n in range((count + 255) // 256):
        width = min(256, count - n * 256)
        data = fetch(tile_path(level, n, width))
        _require(len(data) == 32 * width, f"tile {level}/{n} has the wrong length")
        out += [data[i : i + 32] for i in range(0, len(data), 32)]
    return out


def root_from_tiles(size: int, fetch: Fetch) -> bytes:
    """Fetch every tile of a tree of ``size`` and recompute its root (RFC 6962).

    Checks that each tile level agrees with the level below it: each hash of level L is
    the MTH of 256 hashes of level L-1.
    """
    below = _fetch_level(fetch, 0, size)
    leaves = below
    level = 1
    while size >> (8 * level):
        count = size >> (8 * level)
        hashes = _fetch_level(fetch, level, count)
        for i, h in enumerate(hashes):
            _require(mth(below[i * 256 : (i + 1) * 256]) == h, f"tile level {level} hash {i}")
        below = hashes
        level += 1
    return mth(leaves)


def entries(size: int, fetch: Fetch) -> list[bytes]:
    """Every entry of the log, from its entry bundles."""
    out: list[bytes] = []
    for n in range((size + 255) // 256):
        width = min(256, size - n * 256)
        data = fetch(tile_path("entries", n, width))
        pos = 0
        while pos < len(data):
            length = int.from_bytes(data[pos : pos + 2], "big")
            out.append(data[pos + 2 : pos + 2 + length])
            pos += 2 + length
        _require(pos == len(data), f"entry bundle {n} is truncated")
    _require(len(out) == size, "entry bundles do not hold the tree's size")
    return out


# ------------------------------------------------------------------------- proofs


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: list[bytes], root: bytes
) -> None:
    """RFC 9162 §2.1.3.2."""
    _require(0 <= index < size, "index out of range")
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        _require(sn != 0, "inclusion proof too long")
        if fn % 2 == 1 or fn == sn:
            r = node(p, r)
            while fn % 2 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    _require(sn == 0 and r == root, "inclusion proof does not give the root")


def verify_consistency(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: list[bytes]
) -> None:
    """RFC 9162 §2.1.4.2."""
    _require(0 < size1 <= size2, "sizes out of order")
    if size1 == size2:
        _require(not proof and root1 == root2, "same size, different roots")
        return
    path = ([root1] if size1 & (size1 - 1) == 0 else []) + list(proof)
    _require(len(path) > 0, "empty consistency proof")
    fn, sn = size1 - 1, size2 - 1
    while fn % 2 == 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        _require(sn != 0, "consistency proof too long")
        if fn % 2 == 1 or fn == sn:
            fr, sr = node(c, fr), node(c, sr)
            while fn % 2 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node(sr, c)
        fn >>= 1
        sn >>= 1
    _require(sn == 0 and fr == root1 and sr == root2, "consistency proof fails")
