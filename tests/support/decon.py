"""In-memory networks for the deconfliction and track tests: the scenario's channels, the
deconfliction and track routers, and one copy of the shipped boundaries for every node."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from molink.api import routes_deconfliction, routes_tracks
from molink.core.boundaries import Boundaries, load_boundaries
from molink.core.boundary_grid import grid_boundaries
from molink.services.scenario import CHANNELS
from molink.storage.db import micros
from molink.storage.schema import channels
from tests.support.memnet import MemNet, build_memnet

_BOUNDARIES: list[Boundaries] = []


def boundaries() -> Boundaries:
    """The shipped boundaries with their grid, built once per test process (about 2 s)."""
    if not _BOUNDARIES:
        _BOUNDARIES.append(grid_boundaries(load_boundaries()))
    return _BOUNDARIES[0]


def install_routes(app: Any) -> None:
    """Include the deconfliction and track routers unless the app already has them."""
    included = {id(getattr(r, "original_router", None)) for r in app.routes}
    paths = {getattr(r, "path", None) for r in app.routes}
    for router, path in (
        (routes_deconfliction.router, "/api/v1/notifications"),
        (routes_tracks.router, "/api/v1/tracks"),
    ):
        if id(router) not in included and path not in paths:
            app.include_router(router)


def decon_net(tmp: Path, parties: list[str], *, with_boundaries: bool = True) -> MemNet:
    """Nodes for ``parties`` with the scenario's channels (members limited to ``parties``)."""
    net = build_memnet(tmp, parties, mediator="AE" if "AE" in parties else None)
    for node in net.nodes.values():
        with node.runtime.ctx.db.write() as conn:
            for ch in CHANNELS:
                if conn.execute(select(channels.c.id).where(channels.c.id == ch.id)).first():
                    continue
                conn.execute(
                    insert(channels).values(
                        id=ch.id,
                        name=ch.name,
                        members=[m for m in ch.members if m in net.nodes],
                        mediator=ch.mediator if ch.mediator in net.nodes else None,
                        state="active",
                        emergency=ch.emergency,
                        ack_deadlines=None,
                        created=micros(net.clock.now()),
                    )
                )
        install_routes(node.app)
        node.runtime.tracks.use_boundaries(boundaries() if with_boundaries else None)
    return net


def feature(
    title: str,
    start: str,
    end: str,
    *,
    lon: float = 32.0,
    lat: float = 44.5,
    lower: float = 0.0,
    upper: float = 6000.0,
    radius: float = 20_000.0,
    kind: str = "airspace_reservation",
    **props: Any,
) -> dict[str, Any]:
    """A contract notification Feature: a disc of ``radius`` metres around (lon, lat)."""
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {
            "kind": kind,
            "title": title,
            "start": start,
            "end": end,
            "lower_m": lower,
            "upper_m": upper,
            "radius_m": radius,
            **props,
        },
    }
