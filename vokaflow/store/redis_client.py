"""Connecting to Redis, and translating its failures into ServiceUnavailable."""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import redis.asyncio as aioredis
import redis.exceptions

from vokaflow.errors import ServiceUnavailable

P = ParamSpec("P")
T = TypeVar("T")

LUA_DIR = Path(__file__).parent / "lua"

UNREACHABLE = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.BusyLoadingError,
    ConnectionError,
    TimeoutError,
    OSError,
)


def connect(url: str, *, timeout_s: float = 2.0) -> aioredis.Redis:
    return aioredis.Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        health_check_interval=30,
        max_connections=256,
    )


def lua_source(name: str) -> str:
    return (LUA_DIR / f"{name}.lua").read_text()


def redis_boundary(
    method: Callable[P, Coroutine[Any, Any, T]],
) -> Callable[P, Coroutine[Any, Any, T]]:
    """Turn 'Redis is unreachable' into the API's 503 with component "redis"."""

    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await method(*args, **kwargs)
        except UNREACHABLE as exc:
            raise ServiceUnavailable(
                "redis", f"Redis is temporarily unavailable ({type(exc).__name__})"
            ) from exc

    return wrapper
