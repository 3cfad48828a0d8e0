"""Build molink/data/boundaries.geojson from world-atlas's countries-50m.json (Natural Earth).

Usage (the npm registry is the source; nothing is fetched at run time)::

    cd /tmp && npm pack world-atlas@2 && tar xzf world-atlas-2.0.2.tgz
    python scripts/build_boundaries.py /tmp/package/countries-50m.json \
        molink/data/boundaries.geojson

world-atlas 2.0.2 redistributes Natural Earth 4.1.0 Admin 0 countries (1:50m) as quantized
TopoJSON with ISO 3166-1 numeric ids; this script decodes the arcs, keeps the countries that
the scenario and the basemap need, and writes GeoJSON (RFC 7946) with ISO 3166-1 alpha-2
codes. Natural Earth already splits polygons at the antimeridian.
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import shapely
import shapely.geometry

# ISO 3166-1 numeric -> alpha-2 for Europe (incl. Russia, Turkey and the Caucasus), the US
# and the UAE. Kosovo has no numeric code in Natural Earth; it is matched by name as XK.
ISO_N3_TO_A2 = {
    "008": "AL", "020": "AD", "031": "AZ", "040": "AT", "051": "AM", "056": "BE", "070": "BA",
    "100": "BG", "112": "BY", "191": "HR", "196": "CY", "203": "CZ", "208": "DK", "233": "EE",
    "246": "FI", "250": "FR", "268": "GE", "276": "DE", "300": "GR", "336": "VA", "348": "HU",
    "352": "IS", "372": "IE", "380": "IT", "428": "LV", "438": "LI", "440": "LT", "442": "LU",
    "470": "MT", "492": "MC", "498": "MD", "499": "ME", "528": "NL", "578": "NO", "616": "PL",
    "620": "PT", "642": "RO", "643": "RU", "674": "SM", "688": "RS", "703": "SK", "705": "SI",
    "724": "ES", "752": "SE", "756": "CH", "792": "TR", "804": "UA", "807": "MK", "826": "GB",
    "840": "US", "784": "AE",
}  # fmt: skip
BY_NAME = {"Kosovo": "XK"}
DIGITS = 4  # 11 m; the 1:50m source is quantized to about 0.002-0.004 degrees anyway


def _decode_arcs(topo: dict[str, Any]) -> list[list[tuple[float, float]]]:
    (sx, sy), (tx, ty) = topo["transform"]["scale"], topo["transform"]["translate"]
    out = []
    for arc in topo["arcs"]:
        x = y = 0
        pts = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            pts.append((round(x * sx + tx, DIGITS), round(y * sy + ty, DIGITS)))
        out.append(pts)
    return out


def _ring(indexes: list[int], arcs: list[list[tuple[float, float]]]) -> list[list[float]]:
    pts: list[tuple[float, float]] = []
    for i in indexes:
        arc = arcs[i] if i >= 0 else arcs[~i][::-1]
        pts.extend(arc if not pts else arc[1:])
    dedup = [pts[0]] + [p for a, p in itertools.pairwise(pts) if p != a]
    return [list(p) for p in dedup]


def _unwrap(ring: list[list[float]]) -> list[tuple[float, float]]:
    """Make longitudes continuous along the ring (TopoJSON here is spherical: rings may cross
    the antimeridian, which d3 cuts only when drawing)."""
    out = [(ring[0][0], ring[0][1])]
    for x, y in ring[1:]:
        step = (x - out[-1][0] + 180.0) % 360.0 - 180.0
        out.append((out[-1][0] + step, y))
    return out


def _cut(poly: shapely.Polygon) -> list[shapely.Polygon]:
    """Split a polygon with unwrapped longitudes at the antimeridian (RFC 7946 §3.1.9)."""
    parts: list[shapely.Polygon] = []
    for shift in (0.0, 360.0, -360.0):
        window = shapely.box(-180.0 - shift, -90.0, 180.0 - shift, 90.0)
        piece = shapely.intersection(poly, window)
        piece = shapely.transform(piece, lambda xy, s=shift: xy + np.array([s, 0.0]))
        parts.extend(g for g in shapely.get_parts(piece) if g.geom_type == "Polygon")
    return parts


def _geometry(geom: dict[str, Any], arcs: list[list[tuple[float, float]]]) -> dict[str, Any]:
    polys = [geom["arcs"]] if geom["type"] == "Polygon" else geom["arcs"]
    parts: list[shapely.Polygon] = []
    for poly in polys:
        rings = [_unwrap(_ring(r, arcs)) for r in poly]
        rings = [r for r in rings if len(r) >= 4]
        if not rings:
            continue
        shp = shapely.make_valid(shapely.Polygon(rings[0], rings[1:]))
        for part in shapely.get_parts(shp):
            if part.geom_type == "Polygon":
                parts.extend(_cut(part))
    multi = shapely.set_precision(shapely.MultiPolygon(parts), 10.0**-DIGITS)
    multi = shapely.make_valid(multi)
    multi = shapely.MultiPolygon([g for g in shapely.get_parts(multi) if g.geom_type == "Polygon"])
    out: dict[str, Any] = json.loads(json.dumps(shapely.geometry.mapping(shapely.normalize(multi))))
    return out


def build(src: Path) -> dict[str, Any]:
    topo = json.loads(src.read_text())
    arcs = _decode_arcs(topo)
    features = []
    for geom in topo["objects"]["countries"]["geometries"]:
        name = geom["properties"]["name"]
        code = ISO_N3_TO_A2.get(str(geom.get("id")), BY_NAME.get(name))
        if code is None:
            continue
        features.append(
            {
                "type": "Feature",
                "id": code,
                "properties": {"iso_a2": code, "iso_n3": geom.get("id"), "name": name},
                "geometry": _geometry(geom, arcs),
            }
        )
    features.sort(key=lambda f: str(f["id"]))
    return {
        "type": "FeatureCollection",
        "source": "Natural Earth 4.1.0 Admin 0 countries 1:50m via world-atlas 2.0.2",
        "features": features,
    }


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = build(Path(argv[0]))
    Path(argv[1]).write_text(json.dumps(out, separators=(",", ":")) + "\n")
    print(f"{len(out['features'])} countries -> {argv[1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
