"""The confidence-building ledger: agreements such as a prisoner exchange.

Signed objects, each by one party:

* ``ledger.agree``     an agreement's terms: what each receiving party receives, by
  category (e.g. RU receives 157 servicemen and 3 civilians), its parties and mediators;
* ``ledger.list``      a party's list of the people it hands over: pseudonymous records
  ``{"pid", "category", "to"}``; a name, if given at all, is sealed (JWE) to the
  receiving party and never logged;
* ``ledger.handover``  a party's confirmation of what it handed over and received;
* ``ledger.sign``      a signature over the completion record (parties sign; mediators
  witness).

:func:`reconcile` is the arithmetic: per receiving party and category, the agreed
number against each side's list and each side's handover confirmation.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from molink.core.canonical import canonical_json
from molink.core.keys import is_party_id
from molink.errors import InvalidInput

__all__ = [
    "LEDGER_TYPES",
    "Discrepancy",
    "Reconciliation",
    "check_handover",
    "check_list",
    "check_terms",
    "completion_record",
    "reconcile",
]

LEDGER_TYPES = ("ledger.agree", "ledger.list", "ledger.handover", "ledger.sign")
_MAX_RECORDS = 10_000


def _counts(value: Any, name: str) -> dict[str, int]:
    if not isinstance(value, dict) or not value:
        raise InvalidInput(f"{name}: a map of category to count is required")
    for category, count in value.items():
        if not isinstance(category, str) or not 0 < len(category) <= 40:
            raise InvalidInput(f"{name}: invalid category {category!r}")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise InvalidInput(f"{name}.{category}: a non-negative whole number is required")
    return dict(value)


def check_terms(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Validate an agreement: title, parties, mediators, terms[receiving party][category]."""
    title = fields.get("title")
    if not isinstance(title, str) or not 0 < len(title) <= 300:
        raise InvalidInput("title: 1 to 300 characters")
    parties, mediators = fields.get("parties"), fields.get("mediators", [])
    for name, value in (("parties", parties), ("mediators", mediators)):
        if not isinstance(value, list) or not all(
            isinstance(p, str) and is_party_id(p) for p in value
        ):
            raise InvalidInput(f"{name}: a list of party ids")
    if not isinstance(parties, list) or len(parties) < 2:
        raise InvalidInput("parties: at least two")
    terms = fields.get("terms")
    if not isinstance(terms, dict) or set(terms) - set(parties):
        raise InvalidInput("terms: a map from receiving party to counts by category")
    return {
        "title": title,
        "kind": str(fields.get("kind", "exchange")),
        "parties": parties,
        "mediators": mediators,
        "terms": {p: _counts(c, f"terms.{p}") for p, c in terms.items()},
    }


def check_list(fields: Mapping[str, Any], parties: Iterable[str]) -> list[dict[str, Any]]:
    """Validate a party's handover list (pseudonymous records; no plain names)."""
    records = fields.get("records")
    if not isinstance(records, list) or len(records) > _MAX_RECORDS:
        raise InvalidInput(f"records: a list of at most {_MAX_RECORDS}")
    allowed = set(parties)
    seen: set[str] = set()
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            raise InvalidInput(f"records[{i}]: an object")
        if "name" in rec:
            raise InvalidInput(
                f"records[{i}].name: plain names are not accepted; seal them as name_jwe"
            )
        pid, cat, to = rec.get("pid"), rec.get("category"), rec.get("to")
        if not isinstance(pid, str) or not 0 < len(pid) <= 64 or pid in seen:
            raise InvalidInput(f"records[{i}].pid: a unique pseudonym")
        if not isinstance(cat, str) or not 0 < len(cat) <= 40:
            raise InvalidInput(f"records[{i}].category: required")
        if to not in allowed:
            raise InvalidInput(f"records[{i}].to: one of {sorted(allowed)}")
        seen.add(pid)
    return records


def check_handover(fields: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    return {
        "handed_over": _counts(fields.get("handed_over"), "handed_over"),
        "received": _counts(fields.get("received"), "received"),
    }


@dataclass(frozen=True, slots=True)
class Discrepancy:
    receiver: str
    category: str
    source: str  # "list of XX" or "handover by XX" or "receipt by XX"
    expected: int
    actual: int


@dataclass(frozen=True, slots=True)
class Reconciliation:
    agreed: Mapping[str, Mapping[str, int]]
    listed: Mapping[str, Mapping[str, int]]
    discrepancies: tuple[Discrepancy, ...]
    complete: bool  # lists and both handovers present and all consistent

    def to_json(self) -> dict[str, Any]:
        return {
            "agreed": self.agreed,
            "listed": self.listed,
            "complete": self.complete,
            "discrepancies": [asdict(d) for d in self.discrepancies],
        }


def reconcile(
    terms: Mapping[str, Any],
    lists: Mapping[str, list[dict[str, Any]]],
    handovers: Mapping[str, Mapping[str, Mapping[str, int]]],
) -> Reconciliation:
    """Compare agreed counts with each list and each handover confirmation, by category.

    ``lists[party]`` holds the records ``party`` hands over; ``handovers[party]`` its
    confirmation ``{"handed_over": {...}, "received": {...}}``. With two parties, what one
    hands over is what the other receives.
    """
    agreed: Mapping[str, Mapping[str, int]] = terms["terms"]
    parties: list[str] = list(terms["parties"])
    listed: dict[str, dict[str, int]] = {r: {} for r in agreed}
    for records in lists.values():
        for receiver, counter in _by_receiver(records).items():
            merged = listed.setdefault(receiver, {})
            for cat, n in counter.items():
                merged[cat] = merged.get(cat, 0) + n
    found: list[Discrepancy] = []
    for receiver, expected in agreed.items():
        givers = [p for p in parties if p != receiver]
        for cat in sorted(set(expected) | set(listed.get(receiver, {}))):
            want = expected.get(cat, 0)
            if any(g in lists for g in givers) and listed.get(receiver, {}).get(cat, 0) != want:
                found.append(
                    Discrepancy(
                        receiver,
                        cat,
                        f"lists of {', '.join(givers)}",
                        want,
                        listed.get(receiver, {}).get(cat, 0),
                    )
                )
            if receiver in handovers:
                got = handovers[receiver]["received"].get(cat, 0)
                if got != want:
                    found.append(Discrepancy(receiver, cat, f"receipt by {receiver}", want, got))
            for giver in givers:
                if giver in handovers and len(givers) == 1:
                    gave = handovers[giver]["handed_over"].get(cat, 0)
                    if gave != want:
                        found.append(Discrepancy(receiver, cat, f"handover by {giver}", want, gave))
    complete = (
        not found
        and all(p in lists for p in parties if _gives(p, agreed))
        and all(p in handovers for p in parties)
    )
    return Reconciliation(
        agreed=agreed, listed=listed, discrepancies=tuple(found), complete=complete
    )


def _gives(party: str, agreed: Mapping[str, Mapping[str, int]]) -> bool:
    return any(r != party and any(counts.values()) for r, counts in agreed.items())


def _by_receiver(records: list[dict[str, Any]]) -> dict[str, Counter[str]]:
    out: dict[str, Counter[str]] = {}
    for rec in records:
        out.setdefault(str(rec["to"]), Counter())[str(rec["category"])] += 1
    return out


def completion_record(
    agreement_id: str,
    terms: Mapping[str, Any],
    list_hashes: Mapping[str, str],
    handover_ids: Mapping[str, str],
    recon: Reconciliation,
) -> tuple[dict[str, Any], str]:
    """The record every party signs and the mediators witness; returns (record, sha256)."""
    record = {
        "agreement": agreement_id,
        "title": terms["title"],
        "terms": terms["terms"],
        "parties": terms["parties"],
        "mediators": terms["mediators"],
        "lists_sha256": dict(sorted(list_hashes.items())),
        "handovers": dict(sorted(handover_ids.items())),
        "reconciled": {r: dict(c) for r, c in recon.listed.items()},
    }
    return record, hashlib.sha256(canonical_json(record)).hexdigest()
