"""Declaring a protected site: the signed ``site.declare`` fields become a ``ProtectedSite``.

Fields (``POST /api/v1/sites``): ``name``, ``kind`` (``sites.SiteKind``), ``geometry`` (a
GeoJSON Point with ``radius_m``, or a Polygon or MultiPolygon), ``source`` (the provenance:
on what basis the declaring party vouches for the site), and optionally ``ceiling_m`` (metres
AMSL) and a validity window ``start``/``end``. The declaring party is the signer, never a
field, so nobody can declare a site in another party's name. Pure; errors are
``InvalidInput`` naming the field.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from molink.core.sites import ProtectedSite, Provenance, SiteKind, Verification
from molink.core.volume import Area, Disc, parse_footprint, to_epoch
from molink.errors import InvalidInput

__all__ = ["SITE_FIELDS", "parse_site_declaration"]

SITE_FIELDS = frozenset(
    {"name", "kind", "geometry", "radius_m", "source", "ceiling_m", "start", "end"}
)


def _text(data: Mapping[str, Any], name: str, limit: int) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{name}: expected a non-empty string")
    if len(value) > limit:
        raise InvalidInput(f"{name}: longer than {limit} characters")
    return value


def parse_site_declaration(
    data: object,
    *,
    id: str,
    declared_by: str,
    confirmed_by: tuple[str, ...] = (),
) -> ProtectedSite:
    """Validate a site declaration signed by ``declared_by``. Raises InvalidInput."""
    if not isinstance(data, Mapping):
        raise InvalidInput("body: expected an object")
    unknown = sorted(set(data) - SITE_FIELDS)
    if unknown:
        raise InvalidInput(f"{unknown[0]}: unknown field")
    name = _text(data, "name", 200)
    source = _text(data, "source", 500)
    try:
        kind = SiteKind(str(data.get("kind")))
    except ValueError as exc:
        kinds = ", ".join(k.value for k in SiteKind)
        raise InvalidInput(f"kind: one of {kinds}") from exc
    zone = parse_footprint(data.get("geometry"), radius_m=data.get("radius_m"))
    if not isinstance(zone, Disc | Area):
        raise InvalidInput("geometry.type: a site is a Point with radius_m, or a Polygon")
    ceiling = data.get("ceiling_m")
    if ceiling is not None and (
        isinstance(ceiling, bool)
        or not isinstance(ceiling, int | float)
        or not math.isfinite(ceiling)
        or ceiling <= 0
    ):
        raise InvalidInput("ceiling_m: a number of metres above 0")
    start, end = data.get("start"), data.get("end")
    if (start is None) != (end is None):
        raise InvalidInput("end: give start and end, or neither")
    window = (
        (None, None)
        if start is None
        else (to_epoch(start, "start"), to_epoch(end, "end", round_up=True))
    )
    return ProtectedSite(
        id=id,
        name=name,
        kind=kind,
        zone=zone,
        provenance=Provenance(declared_by=declared_by, source=source),
        verification=Verification(tuple(sorted(set(confirmed_by)))),
        ceiling_m=None if ceiling is None else float(ceiling),
        start=window[0],
        end=window[1],
    )
