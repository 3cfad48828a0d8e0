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
    """Country polygons keyed by ISO 3166-1 alpha-2 code (``codes`` is sorted).

    Each polygon is prepared (GEOS builds its point-in-polygon index once) and carries its
    bounding box, so a batch of points costs one box test per country plus exact tests for
    the points inside each box.
    """

    names: Mapping[str, str]
    shapes: Mapping[str, shapely.MultiPolygon]
    codes: tuple[str, ...]
    _boxes: NDArray[np.float64]

    def geojson(self, code: str) -> dict[str, Any]:
        """The country's GeoJSON geometry."""
        return dict(shapely.geometry.mapping(self.shapes[code]))

    def hits(self, lon: NDArray[np.float64], lat: NDArray[np.float64]) -> NDArray[np.int64]:
        """(point index, country index into ``codes``) pairs of every point inside a country
        (the boundary counts), sorted by point then country."""
        x = geo.wrap_lon(lon)
        y = np.asarray(lat, dtype=np.float64)
        pts: list[NDArray[np.int64]] = []
        owner: list[NDArray[np.int64]] = []
        for k, code in enumerate(self.codes):
            w, s, e, n = self._boxes[k]
            cand = np.flatnonzero((x >= w) & (x <= e) & (y >= s) & (y <= n))
            if len(cand):
                inside = cand[shapely.intersects_xy(self.shapes[code], x[cand], y[cand])]
                pts.append(inside)
                owner.append(np.full(len(inside), k, dtype=np.int64))
        if not pts:
            return np.zeros((0, 2), dtype=np.int64)
        out = np.stack([np.concatenate(pts), np.concatenate(owner)], axis=1)
        return np.asarray(out[np.lexsort((out[:, 1], out[:, 0]))], dtype=np.int64)

    def locate(self, lon: float, lat: float) -> list[str]:
        """Codes of the countries containing one point, sorted."""
        x = float(geo.wrap_lon(lon))
        return [
            code
            for code, (w, s, e, n) in zip(self.codes, self._boxes.tolist(), strict=True)
            if w <= x <= e and s <= lat <= n and shapely.intersects_xy(self.shapes[code], x, lat)
        ]


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
    for shp in shapes.values():
        shapely.prepare(shp)
    boxes = np.asarray([shapes[c].bounds for c in codes], dtype=np.float64).reshape(-1, 4)
    return Boundaries(names, shapes, codes, boxes)


def load_boundaries() -> Boundaries:
    """The boundaries shipped in ``molink/data/boundaries.geojson``."""
    text = resources.files("molink").joinpath("data/boundaries.geojson").read_text("utf-8")
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise MalformedData("boundaries: shipped file is not JSON") from exc
    return parse_boundaries(doc)
