"""Re-deriving the log's tree from its stored entries (``molink log verify``).

The audit streams the entry rows in index order and recomputes everything the node
once derived from them, then compares, so a hand-edited database shows where it was
touched:

* each entry's leaf hash ``SHA-256(0x00 || data)`` (RFC 6962 §2.1) against the stored
  ``leaf_hash`` column and the stored level-0 tree node: a row that no longer matches
  was **edited**; one whose hash is the stored leaf of another index was **reordered**;
* index gaps, and tree leaves with no entry row: **deleted** rows;
* every stored interior node (complete subtree) against the one re-derived;
* every stored checkpoint: its log signature (C2SP signed note), the stored witness
  cosignatures on it (C2SP tlog-cosignature), and its root against the root re-derived
  from the entries. Checkpoints and cosignatures are the anchor an editor cannot forge:
  if entries, leaf column and tree were all rewritten consistently, the first checkpoint
  whose root no longer matches bounds where the change lies.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Row

from molink.core.checkpoint import open_checkpoint
from molink.core.cosignature import CosignatureVerifier
from molink.core.merkle import node_hash
from molink.core.note import Ed25519Verifier, NoteSignature, parse_note
from molink.errors import MolinkError
from molink.storage.log import LogRepo
from molink.storage.logtree import LogTreeRepo

__all__ = ["IntegrityReport", "audit_log"]

_CHUNK = 4096
_MAX_PROBLEMS = 200


@dataclass(frozen=True, slots=True)
class IntegrityReport:
    """The result of re-deriving the tree from stored entries (``molink log verify``).

    Attributes:
        size: entry rows stored (the highest index + 1 if rows are missing).
        ok: nothing disagrees.
        problems: one readable line per finding (capped; counts stay exact).
        edited: indexes whose row no longer hashes to what was logged.
        deleted: indexes with no row although the tree (or a later row) has one.
        reordered: ``(index, original index)``: the row at ``index`` holds the entry
            logged at ``original index``.
        checkpoints: stored checkpoints checked.
        bad_checkpoints: sizes whose signature, cosignatures or root disagree.
    """

    size: int
    ok: bool
    problems: tuple[str, ...]
    edited: tuple[int, ...] = ()
    deleted: tuple[int, ...] = ()
    reordered: tuple[tuple[int, int], ...] = ()
    checkpoints: int = 0
    bad_checkpoints: tuple[int, ...] = ()


@dataclass(slots=True)
class _State:
    problems: list[str] = field(default_factory=list)
    hidden: int = 0
    edited: set[int] = field(default_factory=set)
    deleted: list[int] = field(default_factory=list)
    mismatched: dict[int, tuple[bytes, bytes]] = field(default_factory=dict)
    bad_nodes: int = 0
    stack: list[tuple[int, bytes]] = field(default_factory=list)
    count: int = 0
    roots: dict[int, bytes] = field(default_factory=dict)

    def say(self, line: str) -> None:
        if len(self.problems) < _MAX_PROBLEMS:
            self.problems.append(line)
        else:
            self.hidden += 1

    def push(self, leaf: bytes, wanted_sizes: set[int]) -> list[tuple[int, int, bytes]]:
        """Append a leaf to the running tree; returns the completed interior nodes."""
        index = self.count
        level, acc = 0, leaf
        done = []
        while self.stack and self.stack[-1][0] == level:
            acc = node_hash(self.stack.pop()[1], acc)
            level += 1
            done.append((level, index >> level, acc))
        self.stack.append((level, acc))
        self.count += 1
        if self.count in wanted_sizes:
            root = self.stack[-1][1]
            for _, h in reversed(self.stack[:-1]):
                root = node_hash(h, root)
            self.roots[self.count] = root
        return done


def audit_log(
    conn: Connection,
    *,
    log_verifier: Ed25519Verifier | None = None,
    witnesses: Sequence[CosignatureVerifier] = (),
) -> IntegrityReport:
    """Re-derive the tree from the stored entries of ``conn``'s log and compare."""
    tree = LogTreeRepo()
    checkpoints = tree.all_checkpoints(conn)
    sizes = {int(c.size) for c in checkpoints}
    integrated = tree.integrated_size(conn)
    stored = LogRepo.size(conn)
    end = max(integrated, stored)
    state = _State()
    for start in range(0, end, _CHUNK):
        _window(conn, tree, state, start, min(end, start + _CHUNK), integrated, sizes)
    reordered = _classify(state)
    bad = _checkpoints(conn, tree, state, checkpoints, log_verifier, witnesses)
    if state.hidden:
        state.problems.append(f"... and {state.hidden} more")
    return IntegrityReport(
        size=end,
        ok=not (state.problems or state.bad_nodes),
        problems=tuple(state.problems),
        edited=tuple(sorted(state.edited)),
        deleted=tuple(state.deleted),
        reordered=tuple(reordered),
        checkpoints=len(checkpoints),
        bad_checkpoints=tuple(bad),
    )


def _window(
    conn: Connection,
    tree: LogTreeRepo,
    state: _State,
    start: int,
    end: int,
    integrated: int,
    sizes: set[int],
) -> None:
    rows = {int(r.idx): r for r in LogRepo.entries(conn, start, end)}
    leaves = tree.nodes_in_range(conn, 0, start, end)
    computed: dict[int, list[tuple[int, bytes]]] = {}
    for index in range(start, end):
        row, node = rows.get(index), leaves.get(index)
        if row is None:
            if node is None:
                state.say(f"entry {index} is missing and so is its tree leaf")
                state.deleted.append(index)
                leaf = b"\0" * 32
            else:
                state.say(f"entry {index} was deleted (the tree still holds its leaf)")
                state.deleted.append(index)
                leaf = node
        else:
            leaf = hashlib.sha256(b"\x00" + bytes(row.data)).digest()
            if leaf != bytes(row.leaf_hash):
                state.edited.add(index)
                state.say(f"entry {index} was edited: its data no longer matches its leaf hash")
            if node is not None and leaf != node:
                state.mismatched[index] = (leaf, node)
            elif node is None and index < integrated:
                state.say(f"tree leaf {index} is missing")
        for level, n, h in state.push(leaf, sizes):
            computed.setdefault(level, []).append((n, h))
    for level, nodes in computed.items():
        have = tree.nodes_in_range(conn, level, nodes[0][0], nodes[-1][0] + 1)
        for n, h in nodes:
            if n in have and not hmac.compare_digest(have[n], h):
                state.bad_nodes += 1
                state.say(f"stored tree node (level {level}, index {n}) disagrees with the entries")


def _classify(state: _State) -> list[tuple[int, int]]:
    """Split leaf mismatches into reordered rows (hash logged elsewhere) and edits."""
    by_logged = {logged: i for i, (_, logged) in state.mismatched.items()}
    reordered = []
    for index, (actual, _) in sorted(state.mismatched.items()):
        origin = by_logged.get(actual)
        if origin is not None and origin != index:
            reordered.append((index, origin))
            state.say(f"entry {index} holds what was logged as entry {origin}: rows were reordered")
        elif index not in state.edited:
            state.edited.add(index)
            state.say(f"entry {index} was edited: it no longer hashes to the leaf it was logged as")
    return reordered


def _checkpoints(
    conn: Connection,
    tree: LogTreeRepo,
    state: _State,
    checkpoints: Sequence[Row[Any]],
    log_verifier: Ed25519Verifier | None,
    witnesses: Sequence[CosignatureVerifier],
) -> list[int]:
    known = {(w.name, w.key_id): w for w in witnesses}
    cosigs: dict[int, list[str]] = {}
    for row in tree.all_cosignatures(conn):
        cosigs.setdefault(int(row.size), []).append(str(row.line))
    bad: list[int] = []
    previous = 0
    for row in checkpoints:
        size, root, note = int(row.size), bytes(row.root), str(row.note)
        problem = _checkpoint_problem(size, root, note, log_verifier)
        problem = problem or _cosignature_problem(note, cosigs.get(size, []), known)
        derived = state.roots.get(size)
        if problem is None and derived is not None and not hmac.compare_digest(derived, root):
            problem = (
                f"entries no longer hash to the signed root of size {size}: rows in "
                f"[{previous}, {size}) were edited, deleted or reordered"
            )
        if problem:
            bad.append(size)
            state.say(f"checkpoint {size}: {problem}")
        else:
            previous = size
    return bad


def _checkpoint_problem(
    size: int, root: bytes, note: str, verifier: Ed25519Verifier | None
) -> str | None:
    if verifier is None:
        return None
    try:
        checkpoint = open_checkpoint(note, [verifier], origin=verifier.name).checkpoint
    except MolinkError as exc:
        return f"log signature does not verify ({exc.message})"
    if checkpoint.size != size or checkpoint.root_hash != root:
        return "the stored size or root differs from the signed note"
    return None


def _cosignature_problem(
    note: str, lines: Sequence[str], known: dict[tuple[str, int], CosignatureVerifier]
) -> str | None:
    try:
        body = parse_note(note).text.encode("utf-8")
    except MolinkError:
        return "the stored note is malformed"
    for line in lines:
        try:
            sig = NoteSignature.parse_line(line.rstrip("\n"))
        except MolinkError:
            return "a stored cosignature line is malformed"
        verifier = known.get((sig.name, sig.key_id))
        if verifier is not None and not verifier.verify(body, sig.signature):
            return f"{sig.name}'s cosignature no longer verifies: the checkpoint was rewritten"
    return None
