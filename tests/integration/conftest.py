"""Fixtures for integration tests with real node processes (``tests.support.procnet``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.procnet import ProcNet, ProcNets


@pytest.fixture
def procnet(tmp_path: Path) -> Iterator[Callable[..., ProcNet]]:
    """A factory of ``ProcNet``s; every process they start is ended when the test ends."""
    nets = ProcNets(tmp_path)
    try:
        yield nets.create
    finally:
        nets.close()
