"""Connecting to Redis, and translating its failures into ServiceUnavailable."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Coroutine, Sequence
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
    """A script's text, with each ``--@include lib/NAME`` line replaced by that file."""
    lines = (LUA_DIR / f"{name}.lua").read_text().splitlines()
    return "\n".join(
        (LUA_DIR / f"{line.split()[1]}.lua").read_text() if line.startswith("--@include ") else line
        for line in lines
    )


class LuaScripts:
    """Lua scripts by name, run with EVALSHA.

    redis-py's registered scripts send SCRIPT EXISTS before every pipeline that uses one: a
    second round trip each time. These are loaded once (and again after NOSCRIPT, see
    redis_boundary) and queued as plain EVALSHA commands.
    """

    def __init__(self, client: aioredis.Redis, names: Sequence[str]) -> None:
        self.client = client
        self.sources = {name: lua_source(name) for name in names}
        self.shas = {
            name: hashlib.sha1(src.encode()).hexdigest() for name, src in self.sources.items()
        }

    def queue(self, pipe: Any, name: str, keys: Sequence[str], args: Sequence[Any]) -> None:
        pipe.evalsha(self.shas[name], len(keys), *keys, *args)

    async def run(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        return await self.client.evalsha(self.shas[name], len(keys), *keys, *args)

    async def load(self) -> None:
        for source in self.sources.values():
            await self.client.script_load(source)


def redis_boundary(
    method: Callable[P, Coroutine[Any, Any, T]],
) -> Callable[P, Coroutine[Any, Any, T]]:
    """Turn 'Redis is unreachable' into the API's 503 with component "redis"."""

    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            try:
                return await method(*args, **kwargs)
            except redis.exceptions.NoScriptError:
                # Redis lost its script cache (a restart): load the scripts, try once more.
                # Scripts that failed with NOSCRIPT did nothing, so the retry is safe for them.
                scripts = getattr(args[0], "lua", None)
                if not isinstance(scripts, LuaScripts):
                    raise
                await scripts.load()
                return await method(*args, **kwargs)
        except UNREACHABLE as exc:
            raise ServiceUnavailable(
                "redis", f"Redis is temporarily unavailable ({type(exc).__name__})"
            ) from exc

    return wrapper
