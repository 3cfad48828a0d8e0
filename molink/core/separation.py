"""Separation rules, conflict records and resolutions (the pure rule, without an index).

The rule (DESIGN.md "Deconfliction"; the shared benchmark's ``deconfliction_workload.py`` is the
reference) for a volume q against another party's volume v, with the pair's rule being the
stricter of the two kinds' rules:

* horizontal: ``dist(footprint q, footprint v) <= horizontal_m`` (the boundary counts);
* vertical: ``gap < vertical_m`` where ``gap = max(lower) - min(upper)``;
* time: the windows, each widened by ``time_pad_s`` on both sides, overlap as half-open
  intervals.

Against a protected site (any party) the site rule applies; a site without a ceiling or a
validity window spans all altitudes or all times. Distances are exact geodesic distances
(``geo.core_distance``). Results are sorted, so that every node reaches the same list from
the same notifications.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from molink.core import geo
from molink.core.sites import ProtectedSite
from molink.core.volume import Footprint, Volume, overlap_geojson

__all__ = [
    "ALWAYS",
    "Conflict",
    "ConflictKind",
    "Item",
    "Resolution",
    "SeparationPolicy",
    "SeparationRule",
    "apply_resolution",
    "describe_conflict",
    "footprint_distance",
    "item_band",
    "item_core",
    "item_shape",
    "item_window",
    "nonspatial_conflict",
    "rule_conflicts",
]

Item = Volume | ProtectedSite
"""What a volume can conflict with."""
#: The window of something permanent (a site without a validity window), epoch seconds.
ALWAYS = (-(2**62), 2**62)
_NEVER = ALWAYS


@dataclass(frozen=True, slots=True)
class SeparationRule:
    """Minimum separations. Defaults are the workload's: 5 km, 300 m, 15 min each side."""

    horizontal_m: float = 5000.0
    vertical_m: float = 300.0
    time_pad_s: int = 900

    def stricter(self, other: SeparationRule) -> SeparationRule:
        """The element-wise maximum: symmetric, so both parties derive the same pair rule."""
        return SeparationRule(
            max(self.horizontal_m, other.horizontal_m),
            max(self.vertical_m, other.vertical_m),
            max(self.time_pad_s, other.time_pad_s),
        )


@dataclass(frozen=True, slots=True)
class SeparationPolicy:
    """Rules per volume kind, with a default, and the rule against protected sites.

    A channel agreement carries its own policy (DESIGN.md: "defaults come per kind and can be
    set per channel agreement"). ``hours_per_100m`` weighs a time shift against an altitude
    change when suggesting a resolution: by default one hour of delay costs as much as
    300 m of climb (one vertical separation).
    """

    default: SeparationRule = SeparationRule()
    per_kind: tuple[tuple[str, SeparationRule], ...] = ()
    site: SeparationRule = SeparationRule(0.0, 0.0, 0)
    floor_m: float = 0.0
    seconds_per_metre: float = 12.0

    def rule_for_kind(self, kind: str) -> SeparationRule:
        for name, rule in self.per_kind:
            if name == kind:
                return rule
        return self.default

    def rule_for(self, a: Item, b: Item) -> SeparationRule:
        """The pair rule: the site rule against a site, else the stricter kind rule."""
        if isinstance(a, ProtectedSite) or isinstance(b, ProtectedSite):
            return self.site
        return self.rule_for_kind(a.kind).stricter(self.rule_for_kind(b.kind))

    def with_kind(self, kind: str, rule: SeparationRule) -> SeparationPolicy:
        rest = tuple((k, r) for k, r in self.per_kind if k != kind)
        return replace(self, per_kind=tuple(sorted((*rest, (kind, rule)), key=lambda x: x[0])))

    @property
    def max_horizontal_m(self) -> float:
        return max(
            [self.default.horizontal_m, self.site.horizontal_m]
            + [r.horizontal_m for _, r in self.per_kind]
        )


class ConflictKind(StrEnum):
    VOLUME = "volume"
    SITE = "site"


@dataclass(frozen=True, slots=True)
class Resolution:
    """Move the checked volume by ``time_shift_s`` seconds and/or ``altitude_shift_m`` metres
    (negative: earlier / lower)."""

    time_shift_s: int = 0
    altitude_shift_m: float = 0.0


@dataclass(frozen=True, slots=True)
class Conflict:
    """A conflict of volume ``volume_id`` with ``other_id`` (a volume or a protected site).

    ``separation_m`` is the horizontal distance between the footprints (0 when they overlap),
    ``vertical_gap_m`` is ``max(lower) - min(upper)`` (negative when the bands overlap) and
    ``time_overlap`` is the [start, end) overlap of the windows widened by the rule's pad.
    ``options`` holds the smallest clearing time shift and altitude change that exist;
    ``suggested`` is the cheaper of them (see ``SeparationPolicy.seconds_per_metre``).
    ``overlap`` is a GeoJSON geometry of the region where the separation is violated, for
    display only (approximate polygon), or None when not computed.
    """

    volume_id: str
    other_id: str
    kind: ConflictKind
    other_party: str | None
    separation_m: float
    vertical_gap_m: float
    time_overlap: tuple[int, int]
    options: tuple[Resolution, ...]
    suggested: Resolution | None
    overlap: Mapping[str, Any] | None = field(default=None, compare=False, hash=False)

    @property
    def sort_key(self) -> tuple[str, str, str]:
        return (self.volume_id, self.kind.value, self.other_id)


def item_band(item: Item) -> tuple[float, float]:
    if isinstance(item, ProtectedSite):
        return (-math.inf, math.inf if item.ceiling_m is None else item.ceiling_m)
    return (item.lower_m, item.upper_m)


def item_window(item: Item) -> tuple[int, int]:
    if isinstance(item, ProtectedSite):
        return _NEVER if item.start is None or item.end is None else (item.start, item.end)
    return (item.start, item.end)


def item_shape(item: Item) -> Footprint:
    return item.zone if isinstance(item, ProtectedSite) else item.footprint


def item_core(item: Item) -> geo.Core:
    return item_shape(item).core()


def _radius(item: Item) -> float:
    return item_shape(item).radius_m


def footprint_distance(a: Item, b: Item) -> float:
    """Exact geodesic distance (m) between two footprints or zones; 0 when they overlap."""
    return max(0.0, geo.core_distance(item_core(a), item_core(b)) - _radius(a) - _radius(b))


def nonspatial_conflict(q: Volume, other: Item, rule: SeparationRule) -> bool:
    """Party, status, vertical and time parts of the rule (the horizontal part is separate)."""
    if isinstance(other, Volume) and (
        other.party == q.party or not other.deconflicted or other.id == q.id
    ):
        return False
    if not q.deconflicted:
        return False
    lo, up = item_band(other)
    s, e = item_window(other)
    pad = rule.time_pad_s
    return (
        lo < q.upper_m + rule.vertical_m
        and q.lower_m < up + rule.vertical_m
        and s - pad < q.end + pad
        and q.start - pad < e + pad
    )


def _shift_options(
    q: Volume, other: Item, rule: SeparationRule, floor_m: float
) -> list[Resolution]:
    lo, up = item_band(other)
    s, e = item_window(other)
    pad, gap = rule.time_pad_s, rule.vertical_m
    out: list[Resolution] = []
    if (s, e) != _NEVER:
        later, earlier = e + 2 * pad - q.start, s - 2 * pad - q.end
        out.append(Resolution(time_shift_s=later if later <= -earlier else earlier))
    alts: list[float] = []
    if math.isfinite(up):
        alts.append(float(math.ceil(up + gap - q.lower_m)))
    if math.isfinite(lo) and q.lower_m + math.floor(lo - gap - q.upper_m) >= floor_m:
        alts.append(float(math.floor(lo - gap - q.upper_m)))
    if alts:
        out.append(Resolution(altitude_shift_m=min(alts, key=lambda h: (abs(h), h < 0))))
    return out


def apply_resolution(volume: Volume, resolution: Resolution) -> Volume:
    """The volume moved in time and/or altitude by ``resolution``."""
    return replace(
        volume,
        start=volume.start + resolution.time_shift_s,
        end=volume.end + resolution.time_shift_s,
        lower_m=volume.lower_m + resolution.altitude_shift_m,
        upper_m=volume.upper_m + resolution.altitude_shift_m,
    )


def describe_conflict(
    q: Volume,
    other: Item,
    *,
    policy: SeparationPolicy,
    separation_m: float,
    geometry: bool = True,
) -> Conflict:
    """The full conflict record for a pair already known to conflict."""
    rule = policy.rule_for(q, other)
    lo, up = item_band(other)
    s, e = item_window(other)
    pad = rule.time_pad_s
    options = _shift_options(q, other, rule, policy.floor_m)
    # an option that still leaves the pair in conflict (float altitudes) is nudged by 1 m
    options = [_settle(q, other, rule, opt) for opt in options]
    suggested = min(
        options,
        key=lambda r: abs(r.time_shift_s) + abs(r.altitude_shift_m) * policy.seconds_per_metre,
        default=None,
    )
    is_site = isinstance(other, ProtectedSite)
    return Conflict(
        volume_id=q.id,
        other_id=other.id,
        kind=ConflictKind.SITE if is_site else ConflictKind.VOLUME,
        other_party=None if isinstance(other, ProtectedSite) else other.party,
        separation_m=separation_m,
        vertical_gap_m=max(lo, q.lower_m) - min(up, q.upper_m),
        time_overlap=(max(s, q.start) - pad, min(e, q.end) + pad),
        options=tuple(options),
        suggested=suggested,
        overlap=overlap_geojson(item_shape(q), item_shape(other), rule.horizontal_m)
        if geometry
        else None,
    )


def _settle(q: Volume, other: Item, rule: SeparationRule, opt: Resolution) -> Resolution:
    step = 1.0 if opt.altitude_shift_m >= 0 else -1.0
    while opt.altitude_shift_m and nonspatial_conflict(apply_resolution(q, opt), other, rule):
        opt = Resolution(opt.time_shift_s, opt.altitude_shift_m + step)
    return opt


def rule_conflicts(q: Volume, other: Item, policy: SeparationPolicy) -> float | None:
    """Exact rule check of one pair: the footprint distance if they conflict, else None."""
    rule = policy.rule_for(q, other)
    if not nonspatial_conflict(q, other, rule):
        return None
    d = footprint_distance(q, other)
    return d if d <= rule.horizontal_m else None
