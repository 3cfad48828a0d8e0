"""The notification contract (Feature -> catalogue notice + volume) and site declarations."""

from __future__ import annotations

import contextlib
import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from molink.core.notice_feature import parse_notification
from molink.core.site_decl import parse_site_declaration
from molink.core.volume import Disc, VolumeStatus
from molink.errors import InvalidInput

FILED = datetime(2026, 2, 5, 10, 0, tzinfo=UTC)
BASE: dict[str, Any] = {
    "type": "Feature",
    "geometry": {"type": "Point", "coordinates": [32.0, 44.5]},
    "properties": {
        "kind": "airspace_reservation",
        "title": "Patrol",
        "start": "2026-02-06T10:00:00Z",
        "end": "2026-02-06T12:00:00Z",
        "lower_m": 0,
        "upper_m": 6000,
        "radius_m": 20000,
    },
}


def _with(**props: Any) -> dict[str, Any]:
    out = copy.deepcopy(BASE)
    out["properties"].update(props)
    return out


def test_the_contract_form_gives_a_volume_and_a_notice() -> None:
    p = parse_notification(BASE, id="n1", party="US", filed_at=FILED)
    assert p.volume.footprint == Disc(32.0, 44.5, 20000.0)
    assert (p.volume.lower_m, p.volume.upper_m) == (0.0, 6000.0)
    assert p.volume.end - p.volume.start == 7200
    assert p.volume.status is VolumeStatus.ACTIVE
    assert p.notice.kind == "airspace_reservation"
    assert p.defaulted == ("purpose",)
    assert p.late_s is None


def test_particulars_are_validated_and_defaults_listed() -> None:
    p = parse_notification(_with(purpose="Air policing"), id="n", party="US", filed_at=FILED)
    assert p.defaulted == ()
    assert p.notice.purpose == "Air policing"  # type: ignore[union-attr]
    drones = _with(kind="drone_operations")
    assert parse_notification(drones, id="n", party="US", filed_at=FILED).defaulted == (
        "drone_type",
        "drones",
    )
    with pytest.raises(InvalidInput, match=r"^properties\.drones"):
        parse_notification(
            _with(kind="drone_operations", drones=0), id="n", party="US", filed_at=FILED
        )


@pytest.mark.parametrize(
    ("kind", "late_s"),
    [
        ("airspace_reservation", None),
        ("ballistic_missile_launch", None),  # 24 h notice, filed 24 h ahead
        ("major_exercise", 13 * 86400),
        ("naval_hazardous_operation", 2 * 86400),
    ],
)
def test_lateness_follows_the_kind(kind: str, late_s: int | None) -> None:
    extra: dict[str, Any] = {"personnel": 100} if kind == "major_exercise" else {}
    p = parse_notification(_with(kind=kind, **extra), id="n", party="RU", filed_at=FILED)
    assert p.late_s == late_s


def test_a_humanitarian_movement_is_a_route_with_a_width() -> None:
    body = copy.deepcopy(BASE)
    body["geometry"] = {"type": "LineString", "coordinates": [[30.5, 50.4], [31.3, 49.0]]}
    body["properties"] = {
        **BASE["properties"],
        "kind": "humanitarian_movement",
        "width_m": 1000,
        "organisation": "UN OCHA",
        "vehicles": 12,
    }
    del body["properties"]["radius_m"]
    p = parse_notification(body, id="n", party="UA", filed_at=FILED)
    assert p.volume.footprint.radius_m == 500.0  # type: ignore[union-attr]
    assert p.late_s == 24 * 3600  # 48 h needed, filed 24 h ahead


@given(
    st.dictionaries(st.text(max_size=8), st.one_of(st.none(), st.integers(), st.text(max_size=5)))
)
def test_a_parser_never_leaks_anything_but_invalid_input(props: dict[str, Any]) -> None:
    body = {**BASE, "properties": {**BASE["properties"], **props}}
    with contextlib.suppress(InvalidInput):
        parse_notification(body, id="n", party="US", filed_at=FILED)


SITE = {
    "name": "Hospital",
    "kind": "hospital",
    "geometry": {"type": "Point", "coordinates": [35.0, 48.0]},
    "radius_m": 500,
    "source": "MoH list",
}


def test_a_site_is_declared_in_the_signer_name() -> None:
    site = parse_site_declaration(SITE, id="s1", declared_by="UA", confirmed_by=("US", "AE"))
    assert site.provenance.declared_by == "UA"
    assert site.verification.status == "confirmed by 2 parties"
    assert site.zone == Disc(35.0, 48.0, 500.0)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "castle"}, "kind"),
        ({"name": ""}, "name"),
        ({"declared_by": "RU"}, "declared_by"),
        ({"radius_m": None}, "radius_m"),
        ({"ceiling_m": -1}, "ceiling_m"),
        ({"start": "2026-02-06T10:00:00Z"}, "end"),
        ({"geometry": {"type": "LineString", "coordinates": [[1, 1], [2, 2]]}}, "width_m"),
    ],
)
def test_site_errors_name_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput, match=rf"^{field}"):
        parse_site_declaration({**SITE, **change}, id="s", declared_by="UA")
