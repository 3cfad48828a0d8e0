"""RFC 6962 Merkle tree: hashing, a storage-agnostic proof engine and pure verifiers.

The tree is the one of RFC 6962 §2.1 (restated in RFC 9162 §2.1): SHA-256, leaf hash
``SHA-256(0x00 || data)``, interior hash ``SHA-256(0x01 || left || right)``, and the root
of the empty tree is ``SHA-256("")``.

Storage model: the store keeps the hash of every *complete* subtree, at every level.
A complete subtree is named by a :class:`NodeId` ``(level, index)``: it covers the
leaves ``[index * 2**level, (index + 1) * 2**level)``; level 0 holds the leaf hashes.
A complete subtree's hash never changes once the tree has grown past it, so rows are
written once and never updated. Every root and proof is folded from at most
``2 * 64`` such hashes, which the engine asks for in ONE :meth:`HashReader.get_hashes`
call, so a SQL store answers each root or proof with one query.

Typical use from storage (one transaction per batch of appends)::

    nodes = nodes_to_store_on_append_batch(size, leaf_hashes, store)
    store.insert(nodes)                  # plain INSERTs, no UPDATE ever
    root_hash = root(size + len(leaf_hashes), store)

and from serving::

    proof = inclusion_proof(index, size, store)   # or plan first, fetch, assemble:
    plan = inclusion_proof_plan(index, size)
    proof = plan.assemble(store.get_hashes(plan.node_ids))
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import count, repeat
from typing import NamedTuple, Protocol

from molink.core.b64 import b64encode
from molink.errors import InvalidInput, NotFound, ProofInvalid

__all__ = [
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
]

HASH_SIZE = 32
"""Size in bytes of every hash in the tree (SHA-256)."""

MAX_TREE_SIZE = 2**63 - 1
"""Largest tree size accepted anywhere (sizes travel as signed 64-bit integers)."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""Root hash of the empty tree, ``SHA-256("")`` (RFC 6962 §2.1)."""

_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    """Return the leaf hash ``SHA-256(0x00 || data)`` (RFC 6962 §2.1)."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the interior hash ``SHA-256(0x01 || left || right)`` (RFC 6962 §2.1)."""
    return _sha256(b"\x01" + left + right).digest()


class NodeId(NamedTuple):
    """A complete subtree: leaves ``[index * 2**level, (index + 1) * 2**level)``."""

    level: int
    # Shadows tuple.index on purpose: "index" is the name RFC 6962 users expect, and a
    # NamedTuple keeps C-speed hashing for dict stores.
    index: int  # type: ignore[assignment]


class HashReader(Protocol):
    """Read access to stored complete-subtree hashes.

    ``get_hashes`` returns the hashes in the order of ``ids`` (duplicates allowed). It
    raises a ``MolinkError`` (``NotFound`` for a node the store does not hold,
    ``StorageError`` when the store fails); it never returns a short list.
    """

    def get_hashes(self, ids: Sequence[NodeId]) -> Sequence[bytes]: ...


# --------------------------------------------------------------------------- planning


def _check_size(name: str, value: int, *, minimum: int = 0) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInput(f"{name} must be an int")
    if value < minimum or value > MAX_TREE_SIZE:
        raise InvalidInput(f"{name} {value} is out of range [{minimum}, {MAX_TREE_SIZE}]")


def _split(n: int) -> int:
    """Largest power of two strictly smaller than ``n`` (``n >= 2``), RFC 6962 §2.1."""
    return 1 << ((n - 1).bit_length() - 1)


def _range_nodes(start: int, end: int) -> tuple[NodeId, ...]:
    """The complete subtrees whose right-folded hashes give ``MTH(D[start:end])``.

    Only for ranges that occur in the RFC 6962 recursion: ``start`` is aligned to a
    power of two at least ``end - start``. The subtrees are listed left to right,
    largest first (the binary decomposition of ``end - start``).
    """
    out: list[NodeId] = []
    pos = start
    width = end - start
    for level in range(width.bit_length() - 1, -1, -1):
        if width >> level & 1:
            out.append(NodeId(level, pos >> level))
            pos += 1 << level
    return tuple(out)


@dataclass(frozen=True, slots=True)
class ProofPlan:
    """Which stored hashes a root or proof needs, and how to fold them.

    Attributes:
        groups: one entry per output hash; each is the list of complete subtrees whose
            hashes are folded right to left (``h0 ⊕ (h1 ⊕ (…))``) to give that hash.
        node_ids: the distinct subtrees to fetch, in a stable order.
    """

    groups: tuple[tuple[NodeId, ...], ...]
    node_ids: tuple[NodeId, ...]

    @classmethod
    def _of(cls, groups: Iterable[tuple[NodeId, ...]]) -> ProofPlan:
        groups = tuple(groups)
        return cls(groups, tuple(dict.fromkeys(n for g in groups for n in g)))

    def assemble(self, hashes: Sequence[bytes]) -> list[bytes]:
        """Fold the fetched hashes (in ``node_ids`` order) into the output hashes."""
        if len(hashes) != len(self.node_ids):
            raise InvalidInput(f"expected {len(self.node_ids)} hashes, got {len(hashes)}")
        by_id = dict(zip(self.node_ids, hashes, strict=True))
        out: list[bytes] = []
        for group in self.groups:
            acc = by_id[group[-1]]
            for node in reversed(group[:-1]):
                acc = node_hash(by_id[node], acc)
            out.append(acc)
        return out

    def fetch(self, read: HashReader) -> list[bytes]:
        """Fetch the needed hashes with one ``get_hashes`` call and assemble them."""
        if not self.node_ids:
            return []
        hashes = read.get_hashes(self.node_ids)
        if len(hashes) != len(self.node_ids):
            raise NotFound(f"store returned {len(hashes)} of {len(self.node_ids)} hashes")
        return self.assemble(hashes)


def root_plan(size: int) -> ProofPlan:
    """Plan for the root of a tree of ``size >= 1`` leaves (its "peaks")."""
    _check_size("size", size, minimum=1)
    return ProofPlan._of([_range_nodes(0, size)])


def inclusion_proof_plan(index: int, size: int) -> ProofPlan:
    """Plan for the inclusion proof of leaf ``index`` in a tree of ``size`` (RFC 6962 §2.1.1).

    The proof lists sibling hashes from the leaf upwards.
    """
    _check_size("size", size, minimum=1)
    _check_size("index", index)
    if index >= size:
        raise InvalidInput(f"leaf index {index} is not below tree size {size}")
    top_down: list[tuple[NodeId, ...]] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            top_down.append(_range_nodes(start + k, end))
            end = start + k
        else:
            top_down.append(_range_nodes(start, start + k))
            start += k
    return ProofPlan._of(reversed(top_down))


def consistency_proof_plan(old_size: int, new_size: int) -> ProofPlan:
    """Plan for the consistency proof from ``old_size`` to ``new_size`` (RFC 6962 §2.1.2).

    The proof is empty when ``old_size`` is 0 or equals ``new_size``.
    """
    _check_size("old_size", old_size)
    _check_size("new_size", new_size)
    if old_size > new_size:
        raise InvalidInput(f"old size {old_size} is larger than new size {new_size}")
    if old_size in (0, new_size):
        return ProofPlan._of([])
    top_down: list[tuple[NodeId, ...]] = []
    m, start, end, whole = old_size, 0, new_size, True
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            top_down.append(_range_nodes(start + k, end))
            end = start + k
        else:
            top_down.append(_range_nodes(start, start + k))
            m -= k
            start += k
            whole = False
    if not whole:
        top_down.append(_range_nodes(start, end))
    return ProofPlan._of(reversed(top_down))


# ---------------------------------------------------------------------------- engine


def root(size: int, read: HashReader) -> bytes:
    """Root hash of the tree of ``size`` leaves (``EMPTY_ROOT`` for size 0)."""
    _check_size("size", size)
    if size == 0:
        return EMPTY_ROOT
    return root_plan(size).fetch(read)[0]


def inclusion_proof(index: int, size: int, read: HashReader) -> list[bytes]:
    """Inclusion proof of leaf ``index`` in the tree of ``size`` leaves, one read."""
    return inclusion_proof_plan(index, size).fetch(read)


def consistency_proof(old_size: int, new_size: int, read: HashReader) -> list[bytes]:
    """Consistency proof from ``old_size`` to ``new_size``, one read."""
    return consistency_proof_plan(old_size, new_size).fetch(read)


def _check_hash(name: str, value: bytes) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise InvalidInput(f"{name} must be {HASH_SIZE} bytes")


def nodes_to_store_on_append(
    index: int, leaf: bytes, read: HashReader
) -> list[tuple[NodeId, bytes]]:
    """New complete subtrees when the leaf hash ``leaf`` is appended at ``index``.

    ``index`` is the tree size before the append. Returns the leaf node ``(0, index)``
    followed by each parent that becomes complete, bottom up. Reads the left siblings
    (the right edge of the old tree) in one call, and only when there are any.
    """
    _check_size("index", index)
    _check_hash("leaf hash", leaf)
    siblings = [NodeId(level, (index >> level) - 1) for level in range(_trailing_ones(index))]
    sibling_hashes = read.get_hashes(siblings) if siblings else ()
    if len(sibling_hashes) != len(siblings):
        raise NotFound(f"store returned {len(sibling_hashes)} of {len(siblings)} hashes")
    out = [(NodeId(0, index), leaf)]
    acc = leaf
    for level, left in enumerate(sibling_hashes, start=1):
        acc = node_hash(left, acc)
        out.append((NodeId(level, index >> level), acc))
    return out


def nodes_to_store_on_append_batch(
    size: int, leaves: Sequence[bytes], read: HashReader
) -> list[tuple[NodeId, bytes]]:
    """New complete subtrees when the leaf hashes ``leaves`` are appended to ``size``.

    Equivalent to calling :func:`nodes_to_store_on_append` for each leaf in turn, but
    reads the old tree's right edge once and computes the rest in memory.
    """
    _check_size("size", size)
    _check_size("new size", size + len(leaves))
    for item in leaves:
        _check_hash("leaf hash", item)
    if not leaves:
        return []
    peaks = list(_range_nodes(0, size))
    peak_hashes = list(read.get_hashes(peaks)) if peaks else []
    if len(peak_hashes) != len(peaks):
        raise NotFound(f"store returned {len(peak_hashes)} of {len(peaks)} hashes")
    # The stack holds the current right edge as (level, hash), largest subtree first.
    stack = [(node.level, h) for node, h in zip(peaks, peak_hashes, strict=True)]
    out: list[tuple[NodeId, bytes]] = []
    for offset, item in enumerate(leaves):
        index = size + offset
        out.append((NodeId(0, index), item))
        level, acc = 0, item
        while stack and stack[-1][0] == level:
            acc = node_hash(stack.pop()[1], acc)
            level += 1
            out.append((NodeId(level, index >> level), acc))
        stack.append((level, acc))
    return out


def _trailing_ones(n: int) -> int:
    return (~n & (n + 1)).bit_length() - 1


# ------------------------------------------------------------------------- reference


def root_from_leaf_hashes(leaves: Sequence[bytes]) -> bytes:
    """Reference ``MTH`` by plain recursion over the leaf hashes (RFC 6962 §2.1).

    O(n); used by tests and by ``molink log verify`` to re-hash a whole log.
    """
    n = len(leaves)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaves[0]
    k = _split(n)
    return node_hash(root_from_leaf_hashes(leaves[:k]), root_from_leaf_hashes(leaves[k:]))


# ------------------------------------------------------------------------- verifiers


def _shown(value: object) -> object:
    if isinstance(value, bytes):
        return b64encode(value)
    return [_shown(v) for v in value] if isinstance(value, list) else value


def _proof_error(message: str, **evidence: object) -> ProofInvalid:
    return ProofInvalid(message, evidence={k: _shown(v) for k, v in evidence.items()})


def root_from_inclusion_proof(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """Root implied by an inclusion proof (RFC 9162 §2.1.3.2 steps 1-4).

    Raises:
        ProofInvalid: the index, size or proof shape cannot be right.
    """
    evidence = {"leaf_hash": leaf, "index": index, "size": size, "proof": list(proof)}
    if not 0 <= index < size <= MAX_TREE_SIZE:
        raise _proof_error(f"leaf index {index} is not below tree size {size}", **evidence)
    if len(leaf) != HASH_SIZE or any(len(p) != HASH_SIZE for p in proof):
        raise _proof_error("inclusion proof holds a hash of the wrong size", **evidence)
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise _proof_error("inclusion proof is too long", **evidence)
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise _proof_error("inclusion proof is too short", **evidence)
    return r


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root_hash: bytes
) -> None:
    """Check that leaf hash ``leaf`` is at ``index`` in the tree ``(size, root_hash)``.

    RFC 9162 §2.1.3.2. Returns nothing; raises ``ProofInvalid`` (with the leaf, index,
    size, proof, expected and computed root as evidence, hashes in base64) on failure.
    """
    computed = root_from_inclusion_proof(leaf, index, size, proof)
    if not hmac.compare_digest(computed, root_hash):
        raise _proof_error(
            "inclusion proof does not lead to the expected root",
            leaf_hash=leaf,
            index=index,
            size=size,
            proof=list(proof),
            expected_root=root_hash,
            computed_root=computed,
        )


def verify_consistency(
    old_size: int,
    new_size: int,
    old_root: bytes,
    new_root: bytes,
    proof: Sequence[bytes],
) -> None:
    """Check that tree ``(new_size, new_root)`` extends tree ``(old_size, old_root)``.

    RFC 9162 §2.1.4.2. Conventions of RFC 6962 §2.1.2 for the trivial cases: from size 0
    anything is consistent with an empty proof; equal sizes need equal roots and an empty
    proof. Raises ``ProofInvalid`` with both trees and the proof as evidence.
    """
    evidence: dict[str, object] = {
        "old_size": old_size,
        "new_size": new_size,
        "old_root": old_root,
        "new_root": new_root,
        "proof": list(proof),
    }
    if not 0 <= old_size <= new_size <= MAX_TREE_SIZE:
        raise _proof_error("tree sizes are out of order", **evidence)
    if any(len(p) != HASH_SIZE for p in proof) or len(old_root) != HASH_SIZE:
        raise _proof_error("consistency proof holds a hash of the wrong size", **evidence)
    if len(new_root) != HASH_SIZE:
        raise _proof_error("new root has the wrong size", **evidence)
    if old_size in (0, new_size):
        if proof:
            raise _proof_error("consistency proof must be empty for these sizes", **evidence)
        if old_size == new_size and not hmac.compare_digest(old_root, new_root):
            raise _proof_error("same tree size with different roots", **evidence)
        return
    first, second = _consistency_roots(old_size, new_size, old_root, proof, evidence)
    if not (hmac.compare_digest(first, old_root) and hmac.compare_digest(second, new_root)):
        raise _proof_error(
            "consistency proof does not lead to both roots",
            computed_old_root=first,
            computed_new_root=second,
            **evidence,
        )


def _consistency_roots(
    old_size: int,
    new_size: int,
    old_root: bytes,
    proof: Sequence[bytes],
    evidence: dict[str, object],
) -> tuple[bytes, bytes]:
    path = list(proof)
    if not path:
        raise _proof_error("consistency proof is empty", **evidence)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise _proof_error("consistency proof is too long", **evidence)
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise _proof_error("consistency proof is too short", **evidence)
    return fr, sr


# --------------------------------------------------------------------------- memory


class MemoryHashStore:
    """An in-memory :class:`HashReader` backed by a plain dict (tests, simulations).

    ``append`` keeps the store a valid tree; ``put`` writes whatever it is given.
    """

    __slots__ = ("_nodes", "_size")

    def __init__(self) -> None:
        self._nodes: dict[NodeId, bytes] = {}
        self._size = 0

    @classmethod
    def from_leaf_hashes(cls, leaves: Sequence[bytes]) -> MemoryHashStore:
        """Build the store for ``leaves`` level by level: about ``2n`` hashes, no reads."""
        if any(not isinstance(h, bytes) or len(h) != HASH_SIZE for h in leaves):
            raise InvalidInput(f"leaf hashes must be {HASH_SIZE} bytes")
        store = cls()
        nodes = store._nodes
        level_hashes = list(leaves)
        level = 0
        while level_hashes:
            # Plain (level, index) tuples hash and compare equal to NodeId, and are cheaper.
            ids = zip(repeat(level), count(), strict=False)
            nodes.update(zip(ids, level_hashes, strict=False))  # type: ignore[arg-type]
            # Pairs (2i, 2i+1); an odd last hash has no complete parent yet.
            pairs = iter(level_hashes)
            level_hashes = [
                _sha256(b"\x01" + a + b).digest() for a, b in zip(pairs, pairs, strict=False)
            ]
            level += 1
        store._size = len(leaves)
        return store

    @property
    def size(self) -> int:
        """Number of leaves appended with :meth:`append` or :meth:`from_leaf_hashes`."""
        return self._size

    def get_hashes(self, ids: Sequence[NodeId]) -> list[bytes]:
        """Return the hashes of ``ids`` in order; ``NotFound`` if one is missing."""
        nodes = self._nodes
        try:
            return [nodes[i] for i in ids]
        except KeyError as exc:
            raise NotFound(f"no stored hash for node {exc.args[0]}") from exc

    def items(self) -> Iterator[tuple[NodeId, bytes]]:
        """Every stored ``(node, hash)``, e.g. to compare a database with a re-hash."""
        return ((NodeId(*node), h) for node, h in self._nodes.items())

    def put(self, items: Iterable[tuple[NodeId, bytes]]) -> None:
        """Store ``(node, hash)`` pairs as given (no check that they form a tree)."""
        self._nodes.update(items)

    def append(self, leaf: bytes) -> int:
        """Append one leaf hash and its completed parents; return the leaf's index."""
        index = self._size
        self._nodes.update(nodes_to_store_on_append(index, leaf, self))
        self._size = index + 1
        return index

    def extend(self, leaves: Sequence[bytes]) -> None:
        """Append many leaf hashes at once."""
        self._nodes.update(nodes_to_store_on_append_batch(self._size, leaves, self))
        self._size += len(leaves)

    def __len__(self) -> int:
        return len(self._nodes)

    def __contains__(self, node: object) -> bool:
        return node in self._nodes
