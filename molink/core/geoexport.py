"""Exports for other tools: GeoJSON (RFC 7946) and KML 2.2 (OGC 07-147r2) from GeoJSON-like
features, and a CoT event stream from prepared events.

Pure. KML coordinates are ``lon,lat[,alt]``; a feature with altitudes is written with
``altitudeMode`` absolute (metres above mean sea level), else clamped to the ground.
Properties become ``ExtendedData``; ``name`` comes from the ``title``/``name`` property.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from molink.errors import InvalidInput

__all__ = ["KML_NS", "feature_collection", "to_kml"]

KML_NS = "http://www.opengis.net/kml/2.2"


def feature_collection(features: Iterable[Mapping[str, Any]]) -> bytes:
    """A GeoJSON FeatureCollection as UTF-8 JSON."""
    doc = {"type": "FeatureCollection", "features": list(features)}
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _coords(positions: Sequence[Sequence[float]]) -> str:
    return " ".join(
        ",".join(f"{float(c):.7f}".rstrip("0").rstrip(".") for c in p) for p in positions
    )


def _three_d(geometry: Mapping[str, Any]) -> bool:
    def walk(value: Any) -> bool:
        if isinstance(value, list) and value and isinstance(value[0], int | float):
            return len(value) >= 3
        return isinstance(value, list) and any(walk(v) for v in value)

    return walk(geometry.get("coordinates"))


def _geometry(parent: ET.Element, geometry: Mapping[str, Any]) -> None:
    kind = geometry.get("type")
    coords: Any = geometry.get("coordinates")
    mode = "absolute" if _three_d(geometry) else "clampToGround"

    def add(tag: str) -> ET.Element:
        el = ET.SubElement(parent, tag)
        ET.SubElement(el, "altitudeMode").text = mode
        return el

    if kind == "Point":
        ET.SubElement(add("Point"), "coordinates").text = _coords([coords])
    elif kind == "LineString":
        ET.SubElement(add("LineString"), "coordinates").text = _coords(coords)
    elif kind == "Polygon":
        poly = add("Polygon")
        for k, ring in enumerate(coords or []):
            bound = ET.SubElement(poly, "outerBoundaryIs" if k == 0 else "innerBoundaryIs")
            ET.SubElement(ET.SubElement(bound, "LinearRing"), "coordinates").text = _coords(ring)
    elif kind in ("MultiPolygon", "MultiLineString", "MultiPoint", "GeometryCollection"):
        multi = ET.SubElement(parent, "MultiGeometry")
        if kind == "GeometryCollection":
            parts = list(geometry.get("geometries") or [])
        else:
            single = kind.removeprefix("Multi")
            parts = [{"type": single, "coordinates": c} for c in coords or []]
        for part in parts:
            _geometry(multi, part)
    else:
        raise InvalidInput(f"geometry.type: {kind!r} cannot be written as KML")


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def to_kml(features: Iterable[Mapping[str, Any]], *, name: str) -> bytes:
    """A KML document with one Placemark per feature that has a geometry."""
    kml = ET.Element("kml", {"xmlns": KML_NS})
    doc = ET.SubElement(kml, "Document")
    ET.SubElement(doc, "name").text = name
    for feature in features:
        geometry = feature.get("geometry")
        if not isinstance(geometry, Mapping):
            continue
        props = feature.get("properties") or {}
        mark = ET.SubElement(doc, "Placemark")
        if feature.get("id") is not None:
            mark.set("id", "f-" + str(feature.get("id")))
        ET.SubElement(mark, "name").text = _text(
            props.get("title") or props.get("name") or feature.get("id") or ""
        )
        extended = ET.SubElement(mark, "ExtendedData")
        for key, value in props.items():
            if value is None:
                continue
            data = ET.SubElement(extended, "Data", {"name": str(key)})
            ET.SubElement(data, "value").text = _text(value)
        _geometry(mark, geometry)
    body: bytes = ET.tostring(kml, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body
