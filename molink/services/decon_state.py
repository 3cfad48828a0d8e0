"""A node's deconfliction state in memory: notified volumes, protected sites and conflicts.

No I/O: ``DeconflictionService`` feeds it the stored signed objects in log order. It keeps a
``ConflictIndex`` of the current revision of every notification and site, and the current
conflict set, maintained incrementally: applying an item drops every conflict it was part of
and adds the conflicts of its new revision (O(log n + k) through the index).

Determinism (DESIGN.md "Deconfliction": both parties' nodes reach identical results): a
conflict depends only on the current revisions of its two items. Of two volumes, the one
whose current revision was filed later (signed creation time, then id) is the one asked to
move: ``Conflict.volume_id`` names it and ``suggested`` moves it. The separation is
recomputed exactly (``separation.footprint_distance``) so that it never depends on which
item an index probe started from.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from molink.core.conflict import ConflictIndex
from molink.core.notice_feature import ParsedNotification
from molink.core.separation import (
    Conflict,
    SeparationPolicy,
    describe_conflict,
    footprint_distance,
    item_shape,
    rule_conflicts,
)
from molink.core.sites import ProtectedSite
from molink.core.volume import Volume, VolumeStatus, overlap_geojson

__all__ = ["DeconState", "NotificationRecord", "SiteRecord"]

_FAR = 1e9


@dataclass(frozen=True, slots=True)
class NotificationRecord:
    """The current revision of a notification (``rev`` 0 is the original filing).

    ``parsed`` is None when the stored feature does not validate on this node (kept, shown,
    never indexed); ``error`` then says why.
    """

    id: str
    sender: str
    channel: str
    recipients: tuple[str, ...]
    created_us: int
    feature: Mapping[str, Any]
    parsed: ParsedNotification | None
    error: str | None = None
    rev: int = 0
    rev_id: str = ""
    rev_created_us: int = 0
    rev_seq: int = 0
    cancelled: bool = False

    @property
    def volume(self) -> Volume | None:
        if self.parsed is None or self.cancelled:
            return None
        return self.parsed.volume

    @property
    def order(self) -> tuple[int, str]:
        """Which of two volumes moves: the later current revision."""
        return (self.rev_created_us or self.created_us, self.rev_id or self.id)


@dataclass(frozen=True, slots=True)
class SiteRecord:
    """A declared protected site; ``site.verification`` lists the confirming parties."""

    site: ProtectedSite
    channel: str
    created_us: int
    geometry: Mapping[str, Any]


@dataclass
class DeconState:
    """Notifications, sites and their conflicts (keyed by (moving volume, other item))."""

    policy: SeparationPolicy = field(default_factory=SeparationPolicy)
    notes: dict[str, NotificationRecord] = field(default_factory=dict)
    sites: dict[str, SiteRecord] = field(default_factory=dict)
    conflicts: dict[tuple[str, str], Conflict] = field(default_factory=dict)
    version: int = 0
    _index: ConflictIndex = field(init=False)
    _of: dict[str, set[tuple[str, str]]] = field(default_factory=dict)
    _pending_confirm: dict[str, set[str]] = field(default_factory=dict)
    _overlaps: dict[tuple[str, str], dict[str, Any] | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._index = ConflictIndex(policy=self.policy)

    # ------------------------------------------------------------------ changes
    def put_notification(self, record: NotificationRecord) -> list[Conflict]:
        """Store a new revision; returns the conflicts it is part of now, sorted."""
        old = self.notes.get(record.id)
        self.notes[record.id] = record
        self._drop(record.id)
        if old is not None and old.volume is not None:
            self._index.remove(record.id)
        volume = record.volume
        self.version += 1
        if volume is None:
            return []
        self._index.add(volume)
        found = [
            self._orient(volume, c.other_id) for c in self._index.check(volume, geometry=False)
        ]
        for c in found:
            self._link(c)
        return sorted(found, key=lambda c: c.sort_key)

    def put_site(self, record: SiteRecord) -> list[Conflict]:
        """Declare (or re-declare) a site; returns the volumes' conflicts with it, sorted."""
        site = record.site
        pending = self._pending_confirm.pop(site.id, set())
        for party in sorted(pending):
            site = site.confirmed(party)
        record = SiteRecord(site, record.channel, record.created_us, record.geometry)
        known = site.id in self.sites
        self.sites[site.id] = record
        self.version += 1
        if known:
            self._drop(site.id)
            self._index.remove(site.id)
        self._index.add(site)
        found = []
        for vid in self._site_candidates(site):
            note = self.notes.get(vid)
            volume = note.volume if note is not None else None
            if volume is not None and rule_conflicts(volume, site, self.policy) is not None:
                found.append(self._orient(volume, site.id))
        for c in found:
            self._link(c)
        return sorted(found, key=lambda c: c.sort_key)

    def confirm_site(self, site_id: str, party: str) -> bool:
        """Record ``party``'s confirmation; False if the site is not known yet (kept)."""
        record = self.sites.get(site_id)
        if record is None:
            self._pending_confirm.setdefault(site_id, set()).add(party)
            return False
        if party == record.site.provenance.declared_by:
            return True
        site = record.site.confirmed(party)
        self.sites[site_id] = SiteRecord(site, record.channel, record.created_us, record.geometry)
        self.version += 1
        return True

    # ------------------------------------------------------------------ reading
    def item(self, item_id: str) -> Volume | ProtectedSite | None:
        if item_id in self.sites:
            return self.sites[item_id].site
        note = self.notes.get(item_id)
        return None if note is None else note.volume

    def conflicts_of(self, item_id: str) -> list[Conflict]:
        return sorted((self.conflicts[k] for k in self._of.get(item_id, ())), key=_key)

    def all_conflicts(self) -> list[Conflict]:
        return sorted(self.conflicts.values(), key=_key)

    def active_volumes(self) -> list[Volume]:
        return [
            v
            for n in self.notes.values()
            if (v := n.volume) is not None and v.status is VolumeStatus.ACTIVE
        ]

    def site_list(self) -> list[ProtectedSite]:
        return [r.site for r in self.sites.values()]

    def overlap(self, conflict: Conflict) -> dict[str, Any] | None:
        """Display geometry of a conflict (approximate; computed once, on demand, and never
        used for a decision)."""
        key = (conflict.volume_id, conflict.other_id)
        if key in self._overlaps:
            return self._overlaps[key]
        a, b = self.item(conflict.volume_id), self.item(conflict.other_id)
        if a is None or b is None:
            return None
        rule = self.policy.rule_for(a, b)
        geometry = overlap_geojson(item_shape(a), item_shape(b), rule.horizontal_m)
        if key in self.conflicts:
            self._overlaps[key] = geometry
        return geometry

    def __iter__(self) -> Iterator[NotificationRecord]:
        return iter(sorted(self.notes.values(), key=lambda n: (n.created_us, n.id)))

    # ------------------------------------------------------------------ internals
    def _site_candidates(self, site: ProtectedSite) -> list[str]:
        s, d = self.policy.site, self.policy.default
        if (
            s.horizontal_m <= d.horizontal_m
            and s.vertical_m <= d.vertical_m
            and s.time_pad_s <= d.time_pad_s
        ):
            return self._index.conflicting_ids(_probe(site))
        return sorted(self.notes)  # a site rule wider than the default: check every volume

    def _orient(self, volume: Volume, other_id: str) -> Conflict:
        other = self._index.get(other_id)
        q = volume
        if isinstance(other, Volume):
            mine, theirs = self.notes[volume.id], self.notes[other.id]
            if theirs.order > mine.order:
                q, other = other, volume
        return describe_conflict(
            q,
            other,
            policy=self.policy,
            separation_m=footprint_distance(q, other),
            geometry=False,
        )

    def _link(self, c: Conflict) -> None:
        key = (c.volume_id, c.other_id)
        self.conflicts[key] = c
        self._of.setdefault(c.volume_id, set()).add(key)
        self._of.setdefault(c.other_id, set()).add(key)

    def _drop(self, item_id: str) -> None:
        for key in self._of.pop(item_id, set()):
            self.conflicts.pop(key, None)
            self._overlaps.pop(key, None)
            for end in key:
                if end != item_id and end in self._of:
                    self._of[end].discard(key)


def _key(c: Conflict) -> tuple[str, str, str]:
    return c.sort_key


def _probe(site: ProtectedSite) -> Volume:
    """A volume of no party covering the site's zone, band and window: the index's rule for
    it (the default rule) is never stricter than the site rule, so it finds a superset of the
    volumes in conflict with the site; the exact site rule then decides."""
    lower = -_FAR
    upper = _FAR if site.ceiling_m is None or math.isinf(site.ceiling_m) else site.ceiling_m
    start = -(2**61) if site.start is None else site.start
    end = 2**61 if site.end is None else site.end
    return Volume(
        id=f"\x00probe:{site.id}",
        party="\x00site",
        footprint=site.zone,
        lower_m=lower,
        upper_m=upper,
        start=start,
        end=end,
        kind="\x00site",
    )
