"""The boundary grid answers exactly what the polygon test answers, everywhere."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from molink.core.boundaries import Boundaries, load_boundaries
from molink.core.boundary_grid import GriddedBoundaries, grid_boundaries
from molink.errors import InvalidInput


@pytest.fixture(scope="module")
def grids() -> tuple[Boundaries, GriddedBoundaries]:
    plain = load_boundaries()
    return plain, grid_boundaries(plain)


def _same(grids: tuple[Boundaries, GriddedBoundaries], lon: np.ndarray, lat: np.ndarray) -> None:
    plain, gridded = grids
    assert np.array_equal(gridded.hits(lon, lat), plain.hits(lon, lat))


def test_random_points_over_the_covered_area(grids: tuple[Boundaries, GriddedBoundaries]) -> None:
    rng = np.random.default_rng(7)
    _same(grids, rng.uniform(-180, 180, 50_000), rng.uniform(-60, 85, 50_000))
    _same(grids, rng.uniform(-30, 60, 50_000), rng.uniform(30, 72, 50_000))


def test_cell_edges_vertices_and_the_antimeridian(
    grids: tuple[Boundaries, GriddedBoundaries],
) -> None:
    plain, _ = grids
    lon, lat = np.meshgrid(np.arange(-30.0, 60.0, 0.25), np.arange(30.0, 72.0, 0.25))
    _same(grids, lon.ravel(), lat.ravel())  # every cell corner
    verts = np.concatenate(
        [np.asarray(r.coords) for s in plain.shapes.values() for p in s.geoms for r in [p.exterior]]
    )
    _same(grids, verts[:, 0], verts[:, 1])  # every boundary vertex (the boundary is inside)
    _same(grids, np.array([180.0, -180.0, 179.99, 540.0]), np.array([65.0, 65.0, 65.0, 65.0]))
    assert grids[1].hits(np.zeros(0), np.zeros(0)).shape == (0, 2)


@settings(max_examples=200, deadline=None)
@given(
    st.floats(min_value=-180, max_value=180),
    st.floats(min_value=-90, max_value=90),
)
def test_any_point(lon: float, lat: float) -> None:
    _same(_GRIDS[0] if _GRIDS else _build(), np.array([lon]), np.array([lat]))


_GRIDS: list[tuple[Boundaries, GriddedBoundaries]] = []


def _build() -> tuple[Boundaries, GriddedBoundaries]:
    plain = load_boundaries()
    _GRIDS.append((plain, grid_boundaries(plain)))
    return _GRIDS[0]


def test_the_cell_size_divides_the_globe() -> None:
    with pytest.raises(InvalidInput):
        grid_boundaries(load_boundaries(), cell_deg=0.7)
