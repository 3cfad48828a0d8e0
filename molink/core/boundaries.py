"""National boundaries shipped with molink (Natural Earth, public domain; see molink/data).

``parse_boundaries`` is pure; ``load_boundaries`` is the one function that reads package data
(``importlib.resources``), so a node needs no download at run time.

Natural Earth edges are straight in longitude/latitude (plate carrée), so points are tested
against the polygons in that plane, with the boundary counting as inside. Polygons are cut at
the antimeridian in the data, so wrapped longitudes need no special case.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
import shapely
import shapely.geometry
from numpy.typing import NDArray

from molink.core import geo
from molink.errors import MalformedData

__all__ = ["Boundaries", "load_boundaries", "parse_boundaries"]


@dataclass(frozen=True, slots=True, eq=False)
class Boundaries:
    """Country polygons keyed by ISO 3166-1 alpha-2 code, with a point index over their parts."""

    names: Mapping[str, str]
    shapes: Mapping[str, shapely.MultiPolygon]
    _tree: shapely.STRtree
    _part_code: NDArray[np.int64]
    _codes: tuple[str, ...]

    @property
    def codes(self) -> tuple[str, ...]:
        return self._codes

    def geojson(self, code: str) -> dict[str, Any]:
        """The country's GeoJSON geometry."""
        return dict(shapely.geometry.mapping(self.shapes[code]))

    def hits(self, lon: NDArray[np.float64], lat: NDArray[np.float64]) -> NDArray[np.int64]:
        """(point index, country index into ``codes``) pairs of every point inside a country.

        Sorted by point, then country; a point on a shared border is in both.
        """
        pts = shapely.points(geo.wrap_lon(lon), np.asarray(lat, dtype=np.float64))
        pairs = self._tree.query(pts, predicate="intersects")
        out = np.stack([pairs[0], self._part_code[pairs[1]]], axis=1)
        out = np.unique(out, axis=0) if len(out) else out.reshape(0, 2)
        return np.asarray(out, dtype=np.int64)

    def locate(self, lon: float, lat: float) -> list[str]:
        """Codes of the countries containing one point, sorted."""
        return [self._codes[c] for _, c in self.hits(np.array([lon]), np.array([lat]))]


def parse_boundaries(doc: object) -> Boundaries:
    """Build ``Boundaries`` from a GeoJSON FeatureCollection with ``properties.iso_a2``."""
    if not isinstance(doc, Mapping) or doc.get("type") != "FeatureCollection":
        raise MalformedData("boundaries: expected a GeoJSON FeatureCollection")
    names: dict[str, str] = {}
    shapes: dict[str, shapely.MultiPolygon] = {}
    for i, feat in enumerate(doc.get("features") or []):
        try:
            code = str(feat["properties"]["iso_a2"])
            shp = shapely.geometry.shape(feat["geometry"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise MalformedData(f"boundaries: features[{i}] is not a country feature") from exc
        if shp.geom_type == "Polygon":
            shp = shapely.MultiPolygon([shp])
        if shp.geom_type != "MultiPolygon" or not shp.is_valid:
            raise MalformedData(f"boundaries: features[{i}] ({code}) is not a valid polygon")
        names[code] = str(feat["properties"].get("name", code))
        shapes[code] = shp
    codes = tuple(sorted(shapes))
    parts, owner = [], []
    for k, code in enumerate(codes):
        for part in shapes[code].geoms:
            parts.append(part)
            owner.append(k)
    tree = shapely.STRtree(np.asarray(parts, dtype=object))
    return Boundaries(names, shapes, tree, np.asarray(owner, dtype=np.int64), codes)


def load_boundaries() -> Boundaries:
    """The boundaries shipped in ``molink/data/boundaries.geojson``."""
    text = resources.files("molink").joinpath("data/boundaries.geojson").read_text("utf-8")
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise MalformedData("boundaries: shipped file is not JSON") from exc
    return parse_boundaries(doc)
