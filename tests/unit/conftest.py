"""The unit tier: no Ray, no Redis server (tests/tier_guards.py)."""

from __future__ import annotations

import pytest

from tests.tier_guards import refuse_redis_connections, refuse_starting_ray


@pytest.fixture(autouse=True)
def unit_tier(monkeypatch: pytest.MonkeyPatch) -> None:
    refuse_starting_ray(monkeypatch)
    refuse_redis_connections(monkeypatch)
