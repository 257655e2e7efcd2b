"""The Redis tier: the Lua scripts and the stores on the project's own embedded redis-server
(``tier_redis_url``, tests/conftest.py). Ray is never started here (tests/tier_guards.py)."""

from __future__ import annotations

import pytest

from tests.tier_guards import refuse_starting_ray


@pytest.fixture(autouse=True)
def redis_tier(monkeypatch: pytest.MonkeyPatch) -> None:
    refuse_starting_ray(monkeypatch)
