"""C2SP tlog-tiles: paths, tile contents against the reference, bundles, client audit."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from molink.core import tiles as tiles_module
from molink.core.merkle import (
    MemoryHashStore,
    NodeId,
    consistency_proof,
    consistency_proof_plan,
    inclusion_proof,
    inclusion_proof_plan,
    leaf_hash,
    root,
    root_from_leaf_hashes,
    verify_inclusion,
)
from molink.core.tiles import (
    MAX_ENTRY_SIZE,
    TILE_WIDTH,
    Tile,
    TileHashReader,
    audit_tiles,
    decode_entry_bundle,
    encode_entry_bundle,
    encode_index,
    entries_path,
    parse_tile_path,
    split_tile,
    tile_hashes,
    tile_path,
    tiles_for_nodes,
    tiles_for_size,
)
from molink.errors import InvalidInput, MalformedData, MolinkError, NotFound, ProofInvalid

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "tile_paths.json").read_text())

BIG = 70_000
ENTRIES = [b"entry %d" % i for i in range(BIG)]
LEAVES = [leaf_hash(e) for e in ENTRIES]
STORE = MemoryHashStore.from_leaf_hashes(LEAVES)


def served(size: int) -> dict[Tile, bytes]:
    """What a log of ``size`` serves, built from the store as the server would."""
    return {t: tile_hashes(t.level, t.index, t.width, STORE) for t in tiles_for_size(size)}


def bundles(size: int) -> dict[int, bytes]:
    out = {}
    for t in tiles_for_size(size):
        if t.level == 0:
            start = t.index * TILE_WIDTH
            out[t.index] = encode_entry_bundle(ENTRIES[start : start + t.width])
    return out


# ------------------------------------------------------------------------- paths


@pytest.mark.parametrize(("n", "want"), VECTORS["index"])
def test_index_encoding(n: int, want: str) -> None:
    assert encode_index(n) == want


@pytest.mark.parametrize("v", VECTORS["tiles"], ids=lambda v: v["path"])
def test_tile_path_vectors(v: dict[str, Any]) -> None:
    tile = Tile(v["level"], v["index"], v["width"], entries=v["entries"])
    assert tile.path == v["path"]
    assert parse_tile_path(v["path"]) == tile
    width = None if v["width"] == TILE_WIDTH else v["width"]
    if v["entries"]:
        assert entries_path(v["index"], width) == v["path"]
    else:
        assert tile_path(v["level"], v["index"], width) == v["path"]


@pytest.mark.parametrize("path", VECTORS["bad_paths"])
def test_bad_tile_paths(path: str) -> None:
    with pytest.raises(MalformedData):
        parse_tile_path(path)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"level": -1},
        {"level": 64},
        {"index": -1},
        {"width": 0},
        {"width": 257},
        {"level": 1, "entries": True},
        {"level": 1, "index": 2**48},
        {"width": True},
    ],
)
def test_invalid_tiles_cannot_exist(kwargs: dict[str, object]) -> None:
    fields: dict[str, object] = {"level": 0, "index": 0, "width": 256}
    fields.update(kwargs)
    with pytest.raises(InvalidInput):
        Tile(**fields)  # type: ignore[arg-type]


def test_tiles_for_size_matches_the_spec_examples() -> None:
    def shape(size: int) -> list[tuple[int, int, int]]:
        return [(t.level, t.index, t.width) for t in tiles_for_size(size) if t.index >= 272]

    tiles = tiles_for_size(70_000)
    assert sum(1 for t in tiles if t.level == 0 and not t.is_partial) == 273
    assert Tile(0, 273, 112) in tiles
    assert Tile(1, 0) in tiles
    assert Tile(1, 1, 17) in tiles
    assert Tile(2, 0, 1) in tiles
    assert len(tiles) == 273 + 4
    assert shape(70_000) == [(0, 272, 256), (0, 273, 112)]
    assert tiles_for_size(256) == [Tile(0, 0), Tile(1, 0, 1)]
    assert tiles_for_size(0) == []
    assert tiles_for_size(1) == [Tile(0, 0, 1)]


def test_served_at() -> None:
    assert Tile(0, 0).served_at(256)
    assert not Tile(0, 0).served_at(255)
    assert Tile(0, 0, 255).served_at(255)
    assert Tile(0, 0, 17).served_at(70_000)
    assert Tile(1, 1, 17).served_at(70_000)
    assert not Tile(1, 1, 18).served_at(70_000)
    assert not Tile(2, 0, 2).served_at(70_000)
    assert Tile(0, 0, 1, entries=True).served_at(1)
    assert not Tile(0, 0, 1).served_at(0)
    assert all(t.served_at(70_000) for t in tiles_for_size(70_000))


@settings(max_examples=300, deadline=None)
@given(
    data=st.data(),
    level=st.integers(min_value=0, max_value=63),
    width=st.integers(min_value=1, max_value=256),
    entries=st.booleans(),
)
def test_paths_round_trip(data: st.DataObject, level: int, width: int, entries: bool) -> None:
    level = 0 if entries else level
    index = data.draw(st.integers(min_value=0, max_value=(2**63 - 1) >> (8 * (level + 1))))
    tile = Tile(level, index, width, entries=entries)
    assert parse_tile_path(tile.path) == tile


@settings(max_examples=400, deadline=None)
@given(
    path=st.one_of(
        st.text(max_size=40),
        st.lists(
            st.sampled_from(["tile", "entries", "0", "1", "x001", "000", "067.p", "5", "", "x"]),
            max_size=7,
        ).map("/".join),
    )
)
def test_path_parser_raises_only_molink_errors(path: str) -> None:
    with contextlib.suppress(MolinkError):
        tile = parse_tile_path(path)
        assert tile.path == path


# ---------------------------------------------------------------------- contents


def test_level_zero_tiles_hold_leaf_hashes() -> None:
    assert tile_hashes(0, 0, 256, STORE) == b"".join(LEAVES[:256])
    assert tile_hashes(0, 273, 112, STORE) == b"".join(LEAVES[273 * 256 : 70_000])


def test_upper_tiles_hold_hashes_of_full_lower_tiles() -> None:
    level1 = split_tile(Tile(1, 1, 17), tile_hashes(1, 1, 17, STORE))
    for i, h in enumerate(level1):
        start = (256 + i) * 256
        assert h == root_from_leaf_hashes(LEAVES[start : start + 256])
    level2 = tile_hashes(2, 0, 1, STORE)
    assert level2 == root_from_leaf_hashes(LEAVES[:65536])


@settings(max_examples=60, deadline=None)
@given(size=st.integers(min_value=1, max_value=BIG))
def test_tiles_give_the_root_and_proofs_of_any_size(size: int) -> None:
    tiles = served(size) if size < 3000 else {t: served_tile(t) for t in _needed(size)}
    reader = TileHashReader(size, tiles)
    assert root(size, reader) == root(size, STORE)
    index = size // 3
    assert inclusion_proof(index, size, reader) == inclusion_proof(index, size, STORE)
    old = size // 2
    assert consistency_proof(old, size, reader) == consistency_proof(old, size, STORE)


def served_tile(t: Tile) -> bytes:
    return tile_hashes(t.level, t.index, t.width, STORE)


def _needed(size: int) -> list[Tile]:
    ids = [
        *inclusion_proof_plan(size // 3, size).node_ids,
        *consistency_proof_plan(size // 2, size).node_ids,
        *_peaks(size),
    ]
    needed = tiles_for_nodes(ids, size)
    assert set(needed) <= set(tiles_for_size(size))
    return needed


def _peaks(size: int) -> list[NodeId]:
    out, pos = [], 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            out.append(NodeId(level, pos >> level))
            pos += 1 << level
    return out


def test_client_checks_an_inclusion_proof_from_tiles() -> None:
    size, index = 5000, 4321
    needed = tiles_for_nodes([*inclusion_proof_plan(index, size).node_ids, *_peaks(size)], size)
    reader = TileHashReader(size, {t: served_tile(t) for t in needed})
    proof = inclusion_proof(index, size, reader)
    verify_inclusion(LEAVES[index], index, size, proof, root(size, reader))
    with pytest.raises(NotFound):
        TileHashReader(size, {}).get_hashes([NodeId(0, 0)])
    with pytest.raises(InvalidInput):
        reader.get_hashes([NodeId(0, size)])


# ----------------------------------------------------------------------- bundles


def test_entry_bundle_round_trip_and_format() -> None:
    assert encode_entry_bundle([b"", b"ab"]) == b"\x00\x00\x00\x02ab"
    assert decode_entry_bundle(b"\x00\x00\x00\x02ab") == [b"", b"ab"]
    big = bytes(MAX_ENTRY_SIZE)
    assert decode_entry_bundle(encode_entry_bundle([big]), width=1) == [big]
    full = [bytes([i]) for i in range(256)]
    assert decode_entry_bundle(encode_entry_bundle(full), width=256) == full


@pytest.mark.parametrize(
    ("data", "width"),
    [
        (b"", None),
        (b"\x00", None),
        (b"\x00\x03ab", None),
        (b"\x00\x01a\x00", None),
        (b"\x00\x01a", 2),
        (b"\x00\x00" * 257, None),
        (b"\xff\xff", None),
    ],
)
def test_bad_entry_bundles(data: bytes, width: int | None) -> None:
    with pytest.raises(MalformedData):
        decode_entry_bundle(data, width=width)


@pytest.mark.parametrize("entries", [[], [b""] * 257, [bytes(MAX_ENTRY_SIZE + 1)]])
def test_unencodable_bundles(entries: list[bytes]) -> None:
    with pytest.raises(InvalidInput):
        encode_entry_bundle(entries)


@settings(max_examples=200, deadline=None)
@given(entries=st.lists(st.binary(max_size=300), min_size=1, max_size=256))
def test_bundles_round_trip(entries: list[bytes]) -> None:
    assert decode_entry_bundle(encode_entry_bundle(entries), width=len(entries)) == entries


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=600))
def test_bundle_decoder_raises_only_molink_errors(data: bytes) -> None:
    with contextlib.suppress(MolinkError):
        entries = decode_entry_bundle(data)
        assert encode_entry_bundle(entries) == data


# ------------------------------------------------------------------------- audit

AUDIT_SIZE = 600


def test_audit_accepts_an_honest_log() -> None:
    tiles = served(AUDIT_SIZE)
    assert [t.path for t in tiles if t.level == 1] == ["tile/1/000.p/2"]
    audit_tiles(AUDIT_SIZE, root(AUDIT_SIZE, STORE), tiles, bundles(AUDIT_SIZE))
    audit_tiles(BIG, root(BIG, STORE), served(BIG))


def test_audit_rejects_a_wrong_root() -> None:
    with pytest.raises(ProofInvalid) as info:
        audit_tiles(AUDIT_SIZE, root(AUDIT_SIZE - 1, STORE), served(AUDIT_SIZE))
    assert info.value.evidence["tile"] == "checkpoint"


@pytest.mark.parametrize("which", ["tile/0/000", "tile/0/001", "tile/0/002.p/88", "tile/1/000.p/2"])
def test_audit_rejects_any_altered_tile(which: str) -> None:
    tiles = served(AUDIT_SIZE)
    tile = parse_tile_path(which)
    for pos in (0, 31, len(tiles[tile]) - 1):
        bad = dict(tiles)
        data = bytearray(tiles[tile])
        data[pos] ^= 0x40
        bad[tile] = bytes(data)
        with pytest.raises(ProofInvalid):
            audit_tiles(AUDIT_SIZE, root(AUDIT_SIZE, STORE), bad)


def test_audit_rejects_altered_entries_and_missing_data() -> None:
    good_root = root(AUDIT_SIZE, STORE)
    tampered = bundles(AUDIT_SIZE)
    tampered[1] = encode_entry_bundle([b"forged", *ENTRIES[257:512]])
    with pytest.raises(ProofInvalid) as info:
        audit_tiles(AUDIT_SIZE, good_root, served(AUDIT_SIZE), tampered)
    assert info.value.evidence["tile"] == "tile/entries/001"
    missing = bundles(AUDIT_SIZE)
    del missing[2]
    with pytest.raises(NotFound):
        audit_tiles(AUDIT_SIZE, good_root, served(AUDIT_SIZE), missing)
    tiles = served(AUDIT_SIZE)
    del tiles[Tile(0, 1)]
    with pytest.raises(NotFound):
        audit_tiles(AUDIT_SIZE, good_root, tiles)
    tiles = served(AUDIT_SIZE)
    tiles[Tile(0, 1)] = tiles[Tile(0, 1)][:-1]
    with pytest.raises(MalformedData):
        audit_tiles(AUDIT_SIZE, good_root, tiles)


def test_exported_members() -> None:
    assert set(tiles_module.__all__) == {
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
    }


def test_the_tile_cache_is_bounded_and_keeps_the_most_recent() -> None:
    from molink.services import logsvc

    class _Log(logsvc.LogService):
        def __init__(self) -> None:  # the cache only: no node needed
            import threading
            from collections import OrderedDict

            self._tiles = OrderedDict()
            self._tiles_bytes = 0
            self._tiles_lock = threading.Lock()

    log = _Log()
    size = 8192
    count = logsvc.TILE_CACHE_BYTES // size
    for i in range(count + 10):
        log._remember_tile(f"tile/0/{i:03d}", bytes([i % 256]) * size)
    assert log._tiles_bytes <= logsvc.TILE_CACHE_BYTES
    assert log.cached_tile("tile/0/000") is None  # the oldest went first
    assert log.cached_tile(f"tile/0/{count + 9:03d}") == bytes([(count + 9) % 256]) * size
