"""C2SP tlog-tiles: tile paths, tile contents, entry bundles, and a client-side checker.

A tile (c2sp.org/tlog-tiles) of level ``L`` and index ``N`` holds up to 256 consecutive
Merkle hashes of tree level ``8 * L``: hash ``i`` is the complete subtree
``NodeId(8 * L, N * 256 + i)``. Level-0 tiles hold leaf hashes; entry bundles hold the
entries themselves, each prefixed by its length as a big-endian uint16. Rightmost tiles
are *partial* (1 to 255 hashes) and are named with ``.p/<width>``.

Server side: :func:`tile_hashes` reads a tile from the complete-subtree store of
:mod:`molink.core.merkle` in one query. Client side: :class:`TileHashReader` turns
fetched tiles back into a :class:`~molink.core.merkle.HashReader`, so the same engine
computes roots and proofs from a served log, and :func:`audit_tiles` re-checks every
tile and bundle of a log against a checkpoint, as an outsider would.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from molink.core.merkle import (
    HASH_SIZE,
    MAX_TREE_SIZE,
    HashReader,
    NodeId,
    leaf_hash,
    root,
    root_from_leaf_hashes,
)
from molink.errors import InvalidInput, MalformedData, NotFound, ProofInvalid

__all__ = [
    "MAX_ENTRY_SIZE",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "Tile",
    "TileHashReader",
    "audit_tiles",
    "decode_entry_bundle",
    "encode_entry_bundle",
    "encode_index",
    "entries_path",
    "parse_tile_path",
    "split_tile",
    "tile_hashes",
    "tile_path",
    "tiles_for_nodes",
    "tiles_for_size",
]

TILE_HEIGHT = 8
"""Tree levels per tile level: tile level ``L`` holds tree level ``8 * L``."""

TILE_WIDTH = 1 << TILE_HEIGHT
"""Hashes in a full tile (and entries in a full bundle): 256."""

MAX_ENTRY_SIZE = 0xFFFF
"""Largest entry an entry bundle can carry (uint16 length prefix)."""

_MAX_LEVEL = 63
_LEVEL = re.compile(r"0|[1-9][0-9]?")
_WIDTH = re.compile(r"[1-9][0-9]{0,2}")
_GROUP = re.compile(r"x[0-9]{3}")
_LAST = re.compile(r"[0-9]{3}")


def encode_index(n: int) -> str:
    """Encode a tile index as 3-digit path elements, all but the last prefixed ``x``.

    ``1234067`` is ``x001/x234/067``; ``0`` is ``000``.
    """
    if not isinstance(n, int) or n < 0:
        raise InvalidInput("a tile index is a non-negative int")
    out = f"{n % 1000:03d}"
    n //= 1000
    while n:
        out = f"x{n % 1000:03d}/{out}"
        n //= 1000
    return out


@dataclass(frozen=True, slots=True)
class Tile:
    """A tile (or, with ``entries``, an entry bundle) of a tiled log.

    Invariants: ``0 <= level <= 63`` (0 for bundles), ``1 <= width <= 256``, and the
    tile's first leaf ``index * 256**(level + 1)`` is below ``2**63``.
    """

    level: int
    index: int
    width: int = TILE_WIDTH
    entries: bool = False

    def __post_init__(self) -> None:
        for name in ("level", "index", "width"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise InvalidInput(f"tile {name} must be an int")
        if not 0 <= self.level <= _MAX_LEVEL or (self.entries and self.level != 0):
            raise InvalidInput(f"invalid tile level {self.level}")
        if not 1 <= self.width <= TILE_WIDTH:
            raise InvalidInput(f"tile width {self.width} is not in [1, {TILE_WIDTH}]")
        if self.index < 0 or self.index << (TILE_HEIGHT * (self.level + 1)) > MAX_TREE_SIZE:
            raise InvalidInput(f"tile index {self.index} is out of range")

    @property
    def is_partial(self) -> bool:
        return self.width < TILE_WIDTH

    @property
    def path(self) -> str:
        """``tile/<L>/<N>[.p/<W>]`` or ``tile/entries/<N>[.p/<W>]``."""
        level = "entries" if self.entries else str(self.level)
        suffix = f".p/{self.width}" if self.is_partial else ""
        return f"tile/{level}/{encode_index(self.index)}{suffix}"

    def served_at(self, size: int) -> bool:
        """Whether a log of ``size`` leaves can serve this tile (its hashes all exist)."""
        return self.index * TILE_WIDTH + self.width <= size >> (TILE_HEIGHT * self.level)

    def node_ids(self) -> list[NodeId]:
        """The complete subtrees whose hashes make up this tile (or bundle's leaves)."""
        base = self.index * TILE_WIDTH
        level = self.level * TILE_HEIGHT
        return [NodeId(level, base + i) for i in range(self.width)]

    def as_hashes(self) -> Tile:
        """For a bundle, the level-0 tile of its leaf hashes; else the tile itself."""
        return Tile(0, self.index, self.width) if self.entries else self


def tile_path(level: int, n: int, width: int | None = None) -> str:
    """Path of tile ``n`` at ``level``; ``width`` below 256 makes it partial."""
    return Tile(level, n, TILE_WIDTH if width is None else width).path


def entries_path(n: int, width: int | None = None) -> str:
    """Path of entry bundle ``n``; ``width`` below 256 makes it partial."""
    return Tile(0, n, TILE_WIDTH if width is None else width, entries=True).path


def parse_tile_path(path: str) -> Tile:
    """Parse ``tile/<L>/<N>[.p/<W>]`` or ``tile/entries/<N>[.p/<W>]`` strictly.

    Only the canonical spelling is accepted (no leading zeros, no ``x000`` first group).

    Raises:
        MalformedData: anything else.
    """
    parts = path.split("/") if isinstance(path, str) else []
    if len(parts) < 3 or parts[0] != "tile":
        raise MalformedData("not a tile path")
    entries = parts[1] == "entries"
    if not entries and not _LEVEL.fullmatch(parts[1]):
        raise MalformedData("invalid tile level")
    level = 0 if entries else int(parts[1])
    rest = parts[2:]
    width = TILE_WIDTH
    if len(rest) >= 2 and rest[-2].endswith(".p"):
        if not _WIDTH.fullmatch(rest[-1]) or int(rest[-1]) >= TILE_WIDTH:
            raise MalformedData("invalid partial tile width")
        width = int(rest[-1])
        rest = [*rest[:-2], rest[-2][:-2]]
    *groups, last = rest
    if not _LAST.fullmatch(last) or not all(_GROUP.fullmatch(g) for g in groups):
        raise MalformedData("invalid tile index")
    if groups and groups[0] == "x000":
        raise MalformedData("tile index has a leading zero group")
    if len(groups) > 7:
        raise MalformedData("tile index is too large")
    index = int("".join(g[1:] for g in groups) + last)
    try:
        return Tile(level, index, width, entries=entries)
    except InvalidInput as exc:
        raise MalformedData(f"invalid tile: {exc.message}") from exc


# ---------------------------------------------------------------- server side


def tile_hashes(level: int, n: int, width: int, read: HashReader) -> bytes:
    """The content of tile ``(level, n)`` of the given width, read in one query.

    Hash ``i`` is the stored complete subtree ``NodeId(8 * level, n * 256 + i)``.
    """
    ids = Tile(level, n, width).node_ids()
    hashes = read.get_hashes(ids)
    if len(hashes) != len(ids):
        raise NotFound(f"store returned {len(hashes)} of {len(ids)} tile hashes")
    return b"".join(hashes)


def encode_entry_bundle(entries: Sequence[bytes]) -> bytes:
    """Encode 1 to 256 entries, each prefixed by its length as a big-endian uint16."""
    if not 1 <= len(entries) <= TILE_WIDTH:
        raise InvalidInput(f"an entry bundle holds 1 to {TILE_WIDTH} entries")
    out = bytearray()
    for entry in entries:
        if len(entry) > MAX_ENTRY_SIZE:
            raise InvalidInput(f"entry of {len(entry)} bytes exceeds {MAX_ENTRY_SIZE}")
        out += len(entry).to_bytes(2, "big") + entry
    return bytes(out)


def decode_entry_bundle(data: bytes, *, width: int | None = None) -> list[bytes]:
    """Decode an entry bundle strictly: no truncation, no trailing bytes.

    Args:
        data: the bundle.
        width: if given, the number of entries it must hold.

    Raises:
        MalformedData: truncated, trailing data, empty, more than 256 entries, or not
            ``width`` entries.
    """
    entries: list[bytes] = []
    pos, end = 0, len(data)
    while pos < end:
        if end - pos < 2 or len(entries) == TILE_WIDTH:
            raise MalformedData("entry bundle is truncated or too long")
        size = int.from_bytes(data[pos : pos + 2], "big")
        if end - pos - 2 < size:
            raise MalformedData("entry bundle is truncated")
        entries.append(bytes(data[pos + 2 : pos + 2 + size]))
        pos += 2 + size
    if not entries or (width is not None and len(entries) != width):
        raise MalformedData(f"entry bundle holds {len(entries)} entries, expected {width}")
    return entries


# ---------------------------------------------------------------- client side


def split_tile(tile: Tile, data: bytes) -> list[bytes]:
    """Split a fetched tile into its hashes; the length must be ``32 * width``."""
    if len(data) != HASH_SIZE * tile.width:
        raise MalformedData(f"{tile.path} is {len(data)} bytes, expected {32 * tile.width}")
    return [bytes(data[i : i + HASH_SIZE]) for i in range(0, len(data), HASH_SIZE)]


def tiles_for_size(size: int) -> list[Tile]:
    """Every tile a log of ``size`` leaves serves, lowest level first (no bundles)."""
    if not 0 <= size <= MAX_TREE_SIZE:
        raise InvalidInput(f"tree size {size} is out of range")
    out: list[Tile] = []
    level = 0
    while size >> (TILE_HEIGHT * level):
        count = size >> (TILE_HEIGHT * level)
        out.extend(Tile(level, n) for n in range(count // TILE_WIDTH))
        if count % TILE_WIDTH:
            out.append(Tile(level, count // TILE_WIDTH, count % TILE_WIDTH))
        level += 1
    return out


def _tile_of(node: NodeId, size: int) -> Tile:
    if node.level < 0 or node.index < 0 or (node.index + 1) << node.level > size:
        raise InvalidInput(f"{node} is not a complete subtree of a tree of size {size}")
    level, rise = divmod(node.level, TILE_HEIGHT)
    n = (node.index << rise) >> TILE_HEIGHT
    count = size >> (TILE_HEIGHT * level)
    return Tile(level, n, min(TILE_WIDTH, count - n * TILE_WIDTH))


def tiles_for_nodes(ids: Iterable[NodeId], size: int) -> list[Tile]:
    """The tiles (at tree ``size``) a client fetches to know the hashes of ``ids``."""
    return list(dict.fromkeys(_tile_of(node, size) for node in ids))


class TileHashReader:
    """A :class:`~molink.core.merkle.HashReader` over tiles fetched for a tree size.

    Node ``(8L + r, i)`` is hashed up from ``2**r`` hashes of tile level ``L``. Tiles are
    checked for length on use; a missing tile raises ``NotFound``. The result is only as
    trustworthy as the check it feeds: compare the root with a verified checkpoint.
    """

    def __init__(self, size: int, tiles: Mapping[Tile, bytes]) -> None:
        self._size = size
        self._tiles = tiles
        self._split: dict[Tile, list[bytes]] = {}

    def _hashes(self, tile: Tile) -> list[bytes]:
        if tile not in self._split:
            data = self._tiles.get(tile)
            if data is None:
                raise NotFound(f"tile {tile.path} was not fetched")
            self._split[tile] = split_tile(tile, data)
        return self._split[tile]

    def get_hashes(self, ids: Sequence[NodeId]) -> list[bytes]:
        out = []
        for node in ids:
            tile = _tile_of(node, self._size)
            rise = node.level % TILE_HEIGHT
            first = (node.index << rise) - tile.index * TILE_WIDTH
            out.append(root_from_leaf_hashes(self._hashes(tile)[first : first + (1 << rise)]))
        return out


def _mismatch(message: str, path: str, expected: bytes, computed: bytes) -> ProofInvalid:
    return ProofInvalid(
        message,
        evidence={"tile": path, "expected": expected.hex(), "computed": computed.hex()},
    )


def audit_tiles(
    size: int,
    root_hash: bytes,
    tiles: Mapping[Tile, bytes],
    bundles: Mapping[int, bytes] | None = None,
) -> None:
    """Check a whole served log against a (verified) checkpoint ``(size, root_hash)``.

    Every tile of :func:`tiles_for_size` must be given. Checks that each full tile hashes
    to its entry in the tile above, that the tiles give ``root_hash``, and, if
    ``bundles`` (bundle index to bytes) is given, that every bundle hashes to its level-0
    tile.

    Raises:
        NotFound: a tile or bundle is missing.
        MalformedData: a tile or bundle is malformed.
        ProofInvalid: a hash does not match (evidence: tile path, expected, computed).
    """
    reader = TileHashReader(size, tiles)
    for tile in tiles_for_size(size):
        hashes = reader._hashes(tile)
        if not tile.is_partial and size >> (TILE_HEIGHT * (tile.level + 1)) > tile.index:
            parent = _tile_of(NodeId(TILE_HEIGHT * (tile.level + 1), tile.index), size)
            want = reader._hashes(parent)[tile.index % TILE_WIDTH]
            got = root_from_leaf_hashes(hashes)
            if not hmac.compare_digest(want, got):
                raise _mismatch("tile does not hash to its parent entry", tile.path, want, got)
        if bundles is not None and tile.level == 0:
            bundle = Tile(0, tile.index, tile.width, entries=True)
            data = bundles.get(tile.index)
            if data is None:
                raise NotFound(f"bundle {bundle.path} was not fetched")
            for i, entry in enumerate(decode_entry_bundle(data, width=tile.width)):
                got = leaf_hash(entry)
                if not hmac.compare_digest(got, hashes[i]):
                    raise _mismatch("entry does not hash to its leaf", bundle.path, hashes[i], got)
    got = root(size, reader)
    if not hmac.compare_digest(got, root_hash):
        raise _mismatch("tiles do not give the checkpoint's root", "checkpoint", root_hash, got)
