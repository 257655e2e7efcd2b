"""Ray as a library, never started: deployment files against Ray's own schemas, its pickler,
and modules that import Ray at their top. No Redis server either (tests/tier_guards.py)."""

from __future__ import annotations

import pytest

from tests.tier_guards import refuse_redis_connections, refuse_starting_ray


@pytest.fixture(autouse=True)
def ray_library_tier(monkeypatch: pytest.MonkeyPatch) -> None:
    refuse_starting_ray(monkeypatch)
    refuse_redis_connections(monkeypatch)
