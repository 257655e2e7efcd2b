"""What the lower tiers refuse: starting Ray (and, in tests/unit, reaching a Redis server).

A test that breaks its tier fails with TierViolation, naming the tier to move it to."""

from __future__ import annotations

import importlib.abc
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import pytest


class TierViolation(AssertionError):
    pass


class RefuseRay(importlib.abc.MetaPathFinder):
    """Makes ``ray`` unimportable while it is on sys.meta_path."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> None:
        if fullname == "ray" or fullname.startswith("ray."):
            raise ModuleNotFoundError(f"No module named {fullname!r} (this tier runs without Ray)")
        return None


def _refuse(what: str) -> Any:
    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise TierViolation(f"this tier may not {what}: move the test to a higher tier")

    return refuse


def refuse_starting_ray(monkeypatch: pytest.MonkeyPatch) -> None:
    """ray.init fails; where Ray is not imported yet, importing it fails too."""
    ray = sys.modules.get("ray")
    if ray is None:
        monkeypatch.setattr(sys, "meta_path", [RefuseRay(), *sys.meta_path])
    else:
        monkeypatch.setattr(ray, "init", _refuse("start or join Ray"))


def refuse_redis_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    """Opening a connection to a Redis server fails; fakeredis, which opens none, works."""
    import redis.asyncio.connection
    import redis.connection

    for connection in (redis.connection.Connection, redis.asyncio.connection.Connection):
        monkeypatch.setattr(connection, "_connect", _refuse("connect to a Redis server"))
