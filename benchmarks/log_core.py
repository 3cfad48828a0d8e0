"""Benchmark of the pure transparency-log core (molink.core.merkle/note/checkpoint/...).

Run: ``.venv/bin/python benchmarks/log_core.py [--leaves N]``. Prints one table. Single
process, dict-backed store: this measures the core's CPU cost, not storage.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import random
import statistics
import time
from collections.abc import Callable, Sequence

from molink.core.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from molink.core.cosignature import Cosigner
from molink.core.merkle import (
    MemoryHashStore,
    NodeId,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    nodes_to_store_on_append,
    root,
    verify_consistency,
    verify_inclusion,
)
from molink.core.note import Ed25519Signer
from molink.core.tiles import tile_hashes


def _timed(fn: Callable[[], object], runs: int) -> list[float]:
    """Per-call durations in microseconds."""
    out = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        fn()
        out.append((time.perf_counter_ns() - start) / 1000)
    return out


def _pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def _p50_p99(samples: list[float]) -> str:
    return f"{_pct(samples, 50):.1f} / {_pct(samples, 99):.1f} µs"


def _row(name: str, value: str, note: str = "") -> None:
    print(f"| {name:<52} | {value:>16} | {note:<34} |")


def bench_appends(count: int) -> None:
    leaves = [leaf_hash(i.to_bytes(8, "big")) for i in range(count)]
    nodes: dict[NodeId, bytes] = {}

    class DictReader:
        def get_hashes(self, ids: Sequence[NodeId]) -> list[bytes]:
            return [nodes[i] for i in ids]

    reader = DictReader()
    start = time.perf_counter()
    for index, item in enumerate(leaves):
        nodes.update(nodes_to_store_on_append(index, item, reader))
    single = count / (time.perf_counter() - start)
    _row("append, nodes_to_store_on_append (dict)", f"{single:,.0f} /s", f"{count:,} leaves")

    store = MemoryHashStore()
    start = time.perf_counter()
    for i in range(0, count, 100):
        store.extend(leaves[i : i + 100])
    batched = count / (time.perf_counter() - start)
    _row("append, batch of 100 (MemoryHashStore.extend)", f"{batched:,.0f} /s", "")

    start = time.perf_counter()
    for i in range(count):
        leaf_hash(b"x" * 200 + i.to_bytes(8, "big"))
    _row("leaf_hash of a 208-byte entry", f"{count / (time.perf_counter() - start):,.0f} /s", "")


def bench_signing() -> None:
    log = Ed25519Signer("log.bench.example", hashlib.sha256(b"bench log").digest())
    witness = Cosigner("witness.bench.example", hashlib.sha256(b"bench witness").digest())
    cp = Checkpoint("log.bench.example", 123_456, hashlib.sha256(b"root").digest())
    signed = sign_checkpoint(cp, log)
    verifier = log.verifier()
    sign = _timed(lambda: sign_checkpoint(cp, log), 3000)
    opened = _timed(lambda: open_checkpoint(signed, [verifier]), 3000)
    cosign = _timed(lambda: witness.cosign(cp, 1_800_000_000), 3000)
    _row("checkpoint sign (p50 / p99)", _p50_p99(sign), "")
    _row(
        "checkpoint open+verify (p50 / p99)",
        _p50_p99(opened),
        "",
    )
    _row("cosignature/v1 sign (p50)", f"{_pct(cosign, 50):.1f} µs", "")


def bench_proofs(size: int) -> None:
    start = time.perf_counter()
    leaves = [leaf_hash(i.to_bytes(8, "big")) for i in range(size)]
    hashed = time.perf_counter()
    store = MemoryHashStore.from_leaf_hashes(leaves)
    built = time.perf_counter()
    # The 2M-entry dict is test scaffolding; keep the GC from rescanning it in the timings.
    gc.freeze()
    _row("hash leaves", f"{hashed - start:.2f} s", f"{size:,} leaves")
    _row("build dict store level by level", f"{built - hashed:.2f} s", f"{len(store):,} nodes")
    rng = random.Random(6962)
    top = root(size, store)
    indexes = [rng.randrange(size) for _ in range(20_000)]
    it = iter(indexes)
    incl = _timed(lambda: inclusion_proof(next(it), size, store), len(indexes))
    _row(
        "inclusion proof (p50 / p99)",
        _p50_p99(incl),
        f"size {size:,}",
    )
    proof = inclusion_proof(indexes[0], size, store)
    ver = _timed(lambda: verify_inclusion(leaves[indexes[0]], indexes[0], size, proof, top), 5000)
    _row("inclusion verify (p50)", f"{_pct(ver, 50):.1f} µs", f"{len(proof)} hashes")
    olds = iter([rng.randrange(1, size) for _ in range(20_000)])
    cons = _timed(lambda: consistency_proof(next(olds), size, store), 20_000)
    _row(
        "consistency proof (p50 / p99)",
        _p50_p99(cons),
        f"to size {size:,}",
    )
    old = size // 3 + 1
    cproof = consistency_proof(old, size, store)
    old_root = root(old, store)
    cver = _timed(lambda: verify_consistency(old, size, old_root, top, cproof), 5000)
    _row("consistency verify (p50)", f"{_pct(cver, 50):.1f} µs", f"{len(cproof)} hashes")
    roots = _timed(lambda: root(size, store), 5000)
    _row("root from stored subtrees (p50)", f"{statistics.median(roots):.1f} µs", "")
    full = _timed(lambda: tile_hashes(0, 1000, 256, store), 2000)
    _row("serve one full level-0 tile (p50)", f"{_pct(full, 50):.1f} µs", "256 hashes, one read")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leaves", type=int, default=1_000_000, help="tree size for proofs")
    parser.add_argument("--appends", type=int, default=200_000, help="leaves to append")
    args = parser.parse_args()
    print(f"| {'operation':<52} | {'result':>16} | {'notes':<34} |")
    print(f"|{'-' * 54}|{'-' * 18}|{'-' * 36}|")
    bench_appends(args.appends)
    bench_signing()
    bench_proofs(args.leaves)


if __name__ == "__main__":
    main()
