"""Protected sites: nuclear plants, hospitals, humanitarian sites, cultural property, borders.

A site has an exclusion zone (a geodesic disc or a polygon with geodesic edges), a provenance
(which party declared it, from what source) and a verification status (how many parties have
confirmed its coordinates). The UN OCHA Humanitarian Notification System does not verify
coordinates; molink records who vouched for them so that an incident after a strike can be
settled against what was declared (MISSION.md).

A site applies to every party. Unless a ceiling or a validity window is given it covers all
altitudes and all times.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from molink.core.volume import Area, Disc
from molink.errors import InvalidInput

__all__ = [
    "ZAPORIZHZHIA_NPP",
    "ProtectedSite",
    "Provenance",
    "SiteKind",
    "Verification",
]


class SiteKind(StrEnum):
    NUCLEAR = "nuclear"
    HOSPITAL = "hospital"
    HUMANITARIAN = "humanitarian"
    CULTURAL = "cultural"
    BORDER = "border"
    DAM = "dam"
    CIVILIAN = "civilian"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Provenance:
    """Who declared the site and on what basis (free text, e.g. a notification id)."""

    declared_by: str
    source: str


@dataclass(frozen=True, slots=True)
class Verification:
    """Parties that confirmed the site's coordinates, sorted and without repeats.

    ``status`` is ``unverified`` with no confirmation, else ``confirmed by N parties``.
    """

    confirmed_by: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if tuple(sorted(set(self.confirmed_by))) != self.confirmed_by:
            raise InvalidInput("confirmed_by: must be sorted and without repeats")

    @property
    def count(self) -> int:
        return len(self.confirmed_by)

    @property
    def status(self) -> str:
        return "unverified" if not self.confirmed_by else f"confirmed by {self.count} parties"

    def confirm(self, party: str) -> Verification:
        """A new verification including ``party`` (idempotent)."""
        return Verification(tuple(sorted({*self.confirmed_by, party})))


@dataclass(frozen=True, slots=True, kw_only=True)
class ProtectedSite:
    """A protected site and its exclusion zone.

    ``zone`` is a ``Disc`` (centre + exclusion radius) or an ``Area``. ``ceiling_m`` (metres
    AMSL) bounds the zone vertically if given; ``start``/``end`` (epoch seconds, half-open)
    bound it in time if given.
    """

    id: str
    name: str
    kind: SiteKind
    zone: Disc | Area
    provenance: Provenance
    verification: Verification = Verification()
    ceiling_m: float | None = None
    start: int | None = None
    end: int | None = None

    def __post_init__(self) -> None:
        if not self.id or not self.name:
            raise InvalidInput("id and name must be non-empty")
        if (self.start is None) != (self.end is None):
            raise InvalidInput("start/end: give both or neither")
        if self.start is not None and self.end is not None and not self.start < self.end:
            raise InvalidInput("end: must be after start")
        if self.ceiling_m is not None and self.ceiling_m <= 0:
            raise InvalidInput("ceiling_m: must be above 0")

    def confirmed(self, party: str) -> ProtectedSite:
        """A copy of the site with ``party`` added to its confirmations."""
        return ProtectedSite(
            id=self.id,
            name=self.name,
            kind=self.kind,
            zone=self.zone,
            provenance=self.provenance,
            verification=self.verification.confirm(party),
            ceiling_m=self.ceiling_m,
            start=self.start,
            end=self.end,
        )


#: Zaporizhzhia nuclear power plant (MISSION.md): 47.5122 N, 34.5858 E, exclusion radius 30 km
#: (approximate). The IAEA's five principles apply: no attack from or against the plant.
ZAPORIZHZHIA_NPP = ProtectedSite(
    id="site-zaporizhzhia-npp",
    name="Zaporizhzhia Nuclear Power Plant",
    kind=SiteKind.NUCLEAR,
    zone=Disc(34.5858, 47.5122, 30_000.0),
    provenance=Provenance(
        declared_by="AE", source="Scenario constant (MISSION.md); IAEA five principles"
    ),
)
