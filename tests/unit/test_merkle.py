"""RFC 6962 Merkle tree: known answers, a reference recursion, and property tests."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from molink.core import merkle
from molink.core.merkle import (
    EMPTY_ROOT,
    MemoryHashStore,
    NodeId,
    consistency_proof,
    consistency_proof_plan,
    inclusion_proof,
    inclusion_proof_plan,
    leaf_hash,
    node_hash,
    nodes_to_store_on_append,
    nodes_to_store_on_append_batch,
    root,
    root_from_inclusion_proof,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from molink.errors import InvalidInput, MolinkError, NotFound, ProofInvalid

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "rfc6962_tree.json").read_text())
LEAVES = [bytes.fromhex(x) for x in VECTORS["leaves"]]
LEAF_HASHES = [leaf_hash(x) for x in LEAVES]
ROOTS = {int(k): bytes.fromhex(v) for k, v in VECTORS["roots"].items()}
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")

BIG = 300
BIG_LEAVES = [leaf_hash(i.to_bytes(4, "big")) for i in range(BIG)]
BIG_STORE = MemoryHashStore.from_leaf_hashes(BIG_LEAVES)


def _hexes(items: Sequence[str]) -> list[bytes]:
    return [bytes.fromhex(x) for x in items]


# --- reference: RFC 6962 §2.1.1 and §2.1.2 written as plain recursion over leaf hashes ---


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_path(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    n = len(leaves)
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return [*ref_path(m, leaves[:k]), root_from_leaf_hashes(leaves[k:])]
    return [*ref_path(m - k, leaves[k:]), root_from_leaf_hashes(leaves[:k])]


def ref_subproof(m: int, leaves: Sequence[bytes], whole: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if whole else [root_from_leaf_hashes(leaves)]
    k = _k(n)
    if m <= k:
        return [*ref_subproof(m, leaves[:k], whole), root_from_leaf_hashes(leaves[k:])]
    return [*ref_subproof(m - k, leaves[k:], False), root_from_leaf_hashes(leaves[:k])]


def ref_proof(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    return [] if m == 0 else ref_subproof(m, leaves, True)


class BoundedReader:
    """Counts reads and checks that only complete subtrees of a ``size`` tree are read."""

    def __init__(self, store: MemoryHashStore, size: int) -> None:
        self.store = store
        self.size = size
        self.calls = 0

    def get_hashes(self, ids: Sequence[NodeId]) -> list[bytes]:
        self.calls += 1
        for node in ids:
            assert (node.index + 1) << node.level <= self.size, (node, self.size)
        return self.store.get_hashes(ids)


# --------------------------------------------------------------------- known answers


def test_hash_primitives() -> None:
    assert EMPTY_ROOT.hex() == VECTORS["empty_root"]
    assert root_from_leaf_hashes([]) == EMPTY_ROOT
    assert leaf_hash(b"").hex() == VECTORS["roots"]["1"]
    assert node_hash(LEAF_HASHES[0], LEAF_HASHES[1]) == ROOTS[2]


@pytest.mark.parametrize("size", range(0, 9))
def test_roots_of_the_rfc6962_tree(size: int) -> None:
    want = ROOTS.get(size, EMPTY_ROOT)
    assert root_from_leaf_hashes(LEAF_HASHES[:size]) == want
    store = MemoryHashStore()
    for item in LEAF_HASHES[:size]:
        store.append(item)
    assert root(size, store) == want
    assert root(size, MemoryHashStore.from_leaf_hashes(LEAF_HASHES[:size])) == want
    full = MemoryHashStore.from_leaf_hashes(LEAF_HASHES)
    assert root(size, BoundedReader(full, size)) == want


@pytest.mark.parametrize("vector", VECTORS["inclusion"], ids=lambda v: f"{v['index']}-{v['size']}")
def test_inclusion_vectors(vector: dict[str, object]) -> None:
    index, size = int(vector["index"]), int(vector["size"])  # type: ignore[call-overload]
    proof = _hexes(vector["proof"])  # type: ignore[arg-type]
    store = MemoryHashStore.from_leaf_hashes(LEAF_HASHES)
    assert inclusion_proof(index, size, store) == proof
    assert ref_path(index, LEAF_HASHES[:size]) == proof
    verify_inclusion(LEAF_HASHES[index], index, size, proof, ROOTS[size])
    for probe in _corrupt_inclusion(index, size, proof):
        with pytest.raises(ProofInvalid):
            verify_inclusion(probe[0], probe[1], probe[2], probe[3], probe[4])


def _corrupt_inclusion(
    index: int, size: int, proof: list[bytes]
) -> list[tuple[bytes, int, int, list[bytes], bytes]]:
    leaf, good = LEAF_HASHES[index], ROOTS[size]
    probes = [
        (leaf, index - 1, size, proof, good),
        (leaf, index + 1, size, proof, good),
        (leaf, index ^ 2, size, proof, good),
        (leaf, index, size * 2, proof, good),
        (leaf, index, size // 2, proof, good),
        (b"WrongLeaf", index, size, proof, good),
        (leaf, index, size, proof, EMPTY_ROOT),
        (leaf, index, size, proof, SOME_HASH),
        (leaf, index, size, [*proof, b""], good),
        (leaf, index, size, [*proof, good], good),
        (leaf, index, size, [b"", *proof], good),
        (leaf, index, size, [good, *proof], good),
    ]
    for i in range(len(proof)):
        bad = list(proof)
        bad[i] = bytes([bad[i][0] ^ 8]) + bad[i][1:]
        probes.append((leaf, index, size, bad, good))
    if proof:
        probes.append((leaf, index, size, proof[:-1], good))
    if len(proof) > 1:
        probes.append((leaf, index, size, [proof[0], SOME_HASH, *proof[1:]], good))
    return probes


@pytest.mark.parametrize(
    "vector", VECTORS["consistency"], ids=lambda v: f"{v['old_size']}-{v['new_size']}"
)
def test_consistency_vectors(vector: dict[str, object]) -> None:
    old, new = int(vector["old_size"]), int(vector["new_size"])  # type: ignore[call-overload]
    proof = _hexes(vector["proof"])  # type: ignore[arg-type]
    store = MemoryHashStore.from_leaf_hashes(LEAF_HASHES)
    assert consistency_proof(old, new, store) == proof
    assert ref_proof(old, LEAF_HASHES[:new]) == proof
    r1, r2 = ROOTS[old], ROOTS[new]
    verify_consistency(old, new, r1, r2, proof)
    if not proof:
        return
    probes = [
        (old - 1, new, r1, r2, proof),
        (old + 1, new, r1, r2, proof),
        (old ^ 2, new, r1, r2, proof),
        (old, new * 2, r1, r2, proof),
        (old, new // 2, r1, r2, proof),
        (old, new, b"WrongRoot", r2, proof),
        (old, new, r1, b"WrongRoot", proof),
        (old, new, r2, r1, proof),
        (old, new, r1, r2, []),
        (old, new, r1, r2, [*proof, b""]),
        (old, new, r1, r2, [*proof, r1]),
        (old, new, r1, r2, [*proof, r2]),
        (old, new, r1, r2, [b"", *proof]),
        (old, new, r1, r2, [r1, *proof]),
        (old, new, r1, r2, [r2, *proof]),
        (old, new, r1, r2, [proof[0], *proof]),
        (old, new, r1, r2, proof[:-1]),
    ]
    for i in range(len(proof)):
        bad = list(proof)
        bad[i] = bytes([bad[i][0] ^ 16]) + bad[i][1:]
        probes.append((old, new, r1, r2, bad))
    for p in probes:
        with pytest.raises(ProofInvalid):
            verify_consistency(*p)


R1, R2 = b"don't care 1".ljust(32), b"don't care 2".ljust(32)


@pytest.mark.parametrize(
    ("old", "new", "r1", "r2", "proof", "ok"),
    [
        (0, 0, R1, R2, [], False),
        (1, 1, R1, R2, [], False),
        (0, 0, R1, R1, [], True),
        (0, 1, R1, R2, [], True),
        (1, 1, R2, R2, [], True),
        (1, 0, R1, R2, [], False),
        (2, 1, R1, R2, [], False),
        (1, 2, R1, R2, [], False),
        (0, 0, EMPTY_ROOT, R2, [], False),
        (1, 1, EMPTY_ROOT, R2, [], False),
        (0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),
        (0, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),
        (1, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),
    ],
)
def test_trivial_consistency(
    old: int, new: int, r1: bytes, r2: bytes, proof: list[bytes], ok: bool
) -> None:
    if ok:
        verify_consistency(old, new, r1, r2, proof)
    else:
        with pytest.raises(ProofInvalid):
            verify_consistency(old, new, r1, r2, proof)


@pytest.mark.parametrize(("index", "size"), [(0, 0), (0, 1), (1, 0), (2, 1)])
def test_inclusion_with_empty_proof_and_wrong_shapes(index: int, size: int) -> None:
    for leaf, root_hash in [(SOME_HASH, b""), (b"", EMPTY_ROOT), (SOME_HASH, EMPTY_ROOT)]:
        with pytest.raises(ProofInvalid):
            verify_inclusion(leaf, index, size, [], root_hash)


def test_single_entry_inclusion() -> None:
    h = leaf_hash(b"data")
    verify_inclusion(h, 0, 1, [], h)
    for leaf, root_hash in [(h, b""), (b"", h), (b"", b"")]:
        with pytest.raises(ProofInvalid):
            verify_inclusion(leaf, 0, 1, [], root_hash)


# ---------------------------------------------------------------------- properties

sizes = st.integers(min_value=1, max_value=BIG)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), size=sizes)
def test_inclusion_matches_reference(data: st.DataObject, size: int) -> None:
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    reader = BoundedReader(BIG_STORE, size)
    proof = inclusion_proof(index, size, reader)
    assert reader.calls <= 1
    assert proof == ref_path(index, BIG_LEAVES[:size])
    want_root = root_from_leaf_hashes(BIG_LEAVES[:size])
    assert root(size, BIG_STORE) == want_root
    verify_inclusion(BIG_LEAVES[index], index, size, proof, want_root)
    assert root_from_inclusion_proof(BIG_LEAVES[index], index, size, proof) == want_root


@settings(max_examples=300, deadline=None)
@given(data=st.data(), new=sizes)
def test_consistency_matches_reference(data: st.DataObject, new: int) -> None:
    old = data.draw(st.integers(min_value=0, max_value=new))
    reader = BoundedReader(BIG_STORE, new)
    proof = consistency_proof(old, new, reader)
    assert reader.calls <= 1
    assert proof == ref_proof(old, BIG_LEAVES[:new])
    if old not in (0, new):
        assert proof
    verify_consistency(
        old,
        new,
        root_from_leaf_hashes(BIG_LEAVES[:old]),
        root_from_leaf_hashes(BIG_LEAVES[:new]),
        proof,
    )


@settings(max_examples=200, deadline=None)
@given(data=st.data(), size=st.integers(min_value=2, max_value=BIG))
def test_any_flipped_byte_breaks_an_inclusion_proof(data: st.DataObject, size: int) -> None:
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    proof = inclusion_proof(index, size, BIG_STORE)
    i = data.draw(st.integers(min_value=0, max_value=len(proof) - 1))
    j = data.draw(st.integers(min_value=0, max_value=31))
    bit = data.draw(st.integers(min_value=0, max_value=7))
    bad = list(proof)
    bad[i] = bad[i][:j] + bytes([bad[i][j] ^ (1 << bit)]) + bad[i][j + 1 :]
    with pytest.raises(ProofInvalid) as info:
        verify_inclusion(BIG_LEAVES[index], index, size, bad, root(size, BIG_STORE))
    assert info.value.evidence["size"] == size
    assert len(info.value.evidence["proof"]) == len(proof)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), new=st.integers(min_value=2, max_value=BIG))
def test_any_flipped_byte_breaks_a_consistency_proof(data: st.DataObject, new: int) -> None:
    old = data.draw(st.integers(min_value=1, max_value=new - 1))
    proof = consistency_proof(old, new, BIG_STORE)
    i = data.draw(st.integers(min_value=0, max_value=len(proof) - 1))
    j = data.draw(st.integers(min_value=0, max_value=31))
    bit = data.draw(st.integers(min_value=0, max_value=7))
    bad = list(proof)
    bad[i] = bad[i][:j] + bytes([bad[i][j] ^ (1 << bit)]) + bad[i][j + 1 :]
    r1, r2 = root(old, BIG_STORE), root(new, BIG_STORE)
    with pytest.raises(ProofInvalid) as info:
        verify_consistency(old, new, r1, r2, bad)
    assert info.value.evidence["old_size"] == old


@settings(max_examples=100, deadline=None)
@given(data=st.data(), new=st.integers(min_value=2, max_value=BIG))
def test_consistency_rejects_a_forked_tree(data: st.DataObject, new: int) -> None:
    old = data.draw(st.integers(min_value=1, max_value=new - 1))
    victim = data.draw(st.integers(min_value=0, max_value=old - 1))
    forked = list(BIG_LEAVES[:new])
    forked[victim] = leaf_hash(b"rewritten history")
    fork = MemoryHashStore.from_leaf_hashes(forked)
    proof = consistency_proof(old, new, fork)
    with pytest.raises(ProofInvalid):
        verify_consistency(old, new, root(old, BIG_STORE), root(new, fork), proof)


# ------------------------------------------------------------------------- appends


def test_append_single_batch_and_bulk_agree() -> None:
    one, batch = MemoryHashStore(), MemoryHashStore()
    for item in BIG_LEAVES[:123]:
        one.append(item)
    batch.extend(BIG_LEAVES[:50])
    batch.extend([])
    batch.extend(BIG_LEAVES[50:51])
    batch.extend(BIG_LEAVES[51:123])
    bulk = MemoryHashStore.from_leaf_hashes(BIG_LEAVES[:123])
    ids = [NodeId(level, i) for level in range(8) for i in range(123 >> level)]
    assert len(one) == len(batch) == len(bulk) == len(ids)
    assert one.get_hashes(ids) == batch.get_hashes(ids) == bulk.get_hashes(ids)
    assert one.size == batch.size == bulk.size == 123
    assert dict(one.items()) == dict(bulk.items())
    assert all(type(node) is NodeId for node, _ in bulk.items())


def test_every_stored_node_is_the_hash_of_its_range() -> None:
    store = MemoryHashStore()
    for item in BIG_LEAVES[:70]:
        store.append(item)
    for level in range(7):
        for i in range(70 >> level):
            want = root_from_leaf_hashes(BIG_LEAVES[i << level : (i + 1) << level])
            assert store.get_hashes([NodeId(level, i)]) == [want]
    assert NodeId(7, 0) not in store


@pytest.mark.parametrize("index", [0, 1, 2, 3, 6, 7, 14, 15, 255, 256])
def test_append_returns_exactly_the_newly_complete_subtrees(index: int) -> None:
    before = MemoryHashStore.from_leaf_hashes(BIG_LEAVES[:index])
    reader = BoundedReader(before, index)
    new = nodes_to_store_on_append(index, BIG_LEAVES[index], reader)
    after = MemoryHashStore.from_leaf_hashes(BIG_LEAVES[: index + 1])
    assert len(before) + len(new) == len(after)
    assert [n for n, _ in new] == [NodeId(level, index >> level) for level in range(len(new))]
    assert [h for _, h in new] == after.get_hashes([n for n, _ in new])
    assert reader.calls == (1 if index & 1 else 0)
    batch = nodes_to_store_on_append_batch(index, [BIG_LEAVES[index]], before)
    assert batch == new


def test_a_missing_node_is_reported() -> None:
    store = MemoryHashStore.from_leaf_hashes(BIG_LEAVES[:4])
    with pytest.raises(NotFound):
        root(5, store)
    with pytest.raises(NotFound):
        nodes_to_store_on_append(5, BIG_LEAVES[5], store)


# ------------------------------------------------------------------- plans and input


def test_plans_list_each_node_once_for_one_query() -> None:
    plan = inclusion_proof_plan(5, 7)
    assert plan.node_ids == (NodeId(0, 4), NodeId(0, 6), NodeId(2, 0))
    assert plan.groups == ((NodeId(0, 4),), (NodeId(0, 6),), (NodeId(2, 0),))
    plan = consistency_proof_plan(3, 7)
    assert plan.groups == (
        (NodeId(0, 2),),
        (NodeId(0, 3),),
        (NodeId(1, 0),),
        (NodeId(1, 2), NodeId(0, 6)),
    )
    assert plan.assemble(BIG_STORE.get_hashes(plan.node_ids)) == ref_proof(3, BIG_LEAVES[:7])
    with pytest.raises(InvalidInput):
        plan.assemble([])


@pytest.mark.parametrize(
    "call",
    [
        lambda: inclusion_proof_plan(3, 3),
        lambda: inclusion_proof_plan(0, 0),
        lambda: inclusion_proof_plan(-1, 3),
        lambda: inclusion_proof_plan(0, 2**63),
        lambda: consistency_proof_plan(4, 3),
        lambda: consistency_proof_plan(-1, 3),
        lambda: root(-1, BIG_STORE),
        lambda: nodes_to_store_on_append(0, b"short", BIG_STORE),
        lambda: nodes_to_store_on_append_batch(0, [b"short"], BIG_STORE),
        lambda: MemoryHashStore.from_leaf_hashes([b"short"]),
        lambda: inclusion_proof_plan(True, 3),
    ],
)
def test_bad_arguments_are_invalid_input(call: object) -> None:
    with pytest.raises(InvalidInput):
        call()  # type: ignore[operator]


def test_proof_error_carries_base64_evidence() -> None:
    proof = inclusion_proof(2, 5, BIG_STORE)
    with pytest.raises(ProofInvalid) as info:
        verify_inclusion(BIG_LEAVES[2], 2, 5, proof, SOME_HASH)
    evidence = info.value.evidence
    assert evidence["index"] == 2
    assert isinstance(evidence["expected_root"], str)
    assert isinstance(evidence["computed_root"], str)
    assert all(isinstance(p, str) for p in evidence["proof"])
    assert isinstance(info.value, MolinkError)


def test_exported_members() -> None:
    assert set(merkle.__all__) == {
        "EMPTY_ROOT",
        "HASH_SIZE",
        "MAX_TREE_SIZE",
        "HashReader",
        "MemoryHashStore",
        "NodeId",
        "ProofPlan",
        "consistency_proof",
        "consistency_proof_plan",
        "inclusion_proof",
        "inclusion_proof_plan",
        "leaf_hash",
        "node_hash",
        "nodes_to_store_on_append",
        "nodes_to_store_on_append_batch",
        "root",
        "root_from_inclusion_proof",
        "root_from_leaf_hashes",
        "root_plan",
        "verify_consistency",
        "verify_inclusion",
    }
