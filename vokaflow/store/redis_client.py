"""Connecting to Redis, and translating its failures into StoreUnavailable."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Coroutine, Iterable, Sequence
from pathlib import Path
from typing import Any, ParamSpec, TypeVar, cast

import hiredis
import redis
import redis.asyncio as aioredis
import redis.asyncio.sentinel as aiosentinel
import redis.exceptions
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialBackoff

from vokaflow.store.errors import StoreUnavailable
from vokaflow.store.sentinel import is_sentinel_url, parse_sentinel_url

P = ParamSpec("P")
T = TypeVar("T")

LUA_DIR = Path(__file__).parent / "lua"

UNREACHABLE = (
    redis.exceptions.ConnectionError,
    redis.exceptions.ClusterDownError,
    redis.exceptions.TryAgainError,
    redis.exceptions.MasterDownError,
    redis.exceptions.SlotNotCoveredError,
    redis.exceptions.TimeoutError,
    redis.exceptions.BusyLoadingError,
    ConnectionError,
    TimeoutError,
    OSError,
)


_CLUSTER_URLS: dict[str, bool] = {}


def is_cluster_url(url: str) -> bool:
    """Whether the Redis at ``url`` is a Redis Cluster node, asked once per URL and process.

    Unreachable, it counts as a single node for now (not remembered), so that a gateway
    started during an outage still answers 503 rather than failing to start. A Sentinel URL
    names one primary and its replicas, never a cluster.
    """
    if is_sentinel_url(url):
        return False
    if url not in _CLUSTER_URLS:
        probe = redis.Redis.from_url(url, socket_connect_timeout=2.0, socket_timeout=2.0)
        try:
            info = probe.info("cluster")
        except redis.exceptions.RedisError:
            return False
        finally:
            probe.close()
        _CLUSTER_URLS[url] = bool(int(info.get("cluster_enabled", 0)))
    return _CLUSTER_URLS[url]


RECONNECT_RETRIES = 3


def connect(url: str, *, timeout_s: float = 2.0) -> aioredis.Redis:
    """An asyncio client for one Redis node, for the whole cluster when ``url`` names a
    cluster node, or for the primary that Sentinels name (store/sentinel.py) when it is a
    ``redis+sentinel://`` URL. All answer the same commands; see is_cluster for what
    differs."""
    options: dict[str, Any] = {
        "decode_responses": True,
        "socket_timeout": timeout_s,
        "socket_connect_timeout": timeout_s,
        "max_connections": 256,
    }
    if is_cluster_url(url):
        return cast(aioredis.Redis, aioredis.RedisCluster.from_url(url, **options))
    # A client from a URL retries nothing: after a Redis restart every pooled connection is
    # dead, and the first command on each would fail. Reconnect and retry instead; only on
    # connection errors, where the old server never ran the command (a timeout may have).
    # Behind Sentinel, a reconnect asks the Sentinels for the primary again, and a primary
    # turned replica (READONLY) counts as a lost connection: the retry reaches the new one.
    retry = AsyncRetry(ExponentialBackoff(cap=0.5, base=0.05), RECONNECT_RETRIES)
    options |= {
        "health_check_interval": 30,
        "retry": retry,
        "retry_on_error": [redis.exceptions.ConnectionError],
    }
    client = (
        parse_sentinel_url(url).async_primary(**options)
        if is_sentinel_url(url)
        else aioredis.Redis.from_url(url, **options)
    )
    pool = client.connection_pool
    pool.connection_class = _packing_in_c(pool.connection_class)
    return client


class _HiredisPacking:
    """redis-py's asyncio connections pack commands in Python: 25 µs for a submit's
    50-argument EVALSHA, a tenth of the submit handler. hiredis packs the same bytes in C in
    3 µs (the sync client already uses it)."""

    def pack_command(self, *args: Any) -> list[bytes]:
        name = args[0].encode() if isinstance(args[0], str) else args[0]
        args = (*name.split(), *args[1:])  # "SCRIPT LOAD": one argument per word
        try:
            return [hiredis.pack_command(args)]
        except TypeError:
            pass
        buffers_as_bytes: tuple[Any, ...] = tuple(
            bytes(a) if isinstance(a, bytearray) else a for a in args
        )
        try:  # the rare bytearray, as redis-py sends it; off the hot path
            return [hiredis.pack_command(buffers_as_bytes)]
        except TypeError as exc:
            raise redis.exceptions.DataError(str(exc)) from exc


_PACKING_CLASSES: dict[type, type] = {}


def _packing_in_c(connection_class: type) -> type:
    """The pool's connection class (TCP, TLS or Unix socket), packing with hiredis."""
    if connection_class not in _PACKING_CLASSES:
        _PACKING_CLASSES[connection_class] = type(
            f"Hiredis{connection_class.__name__}", (_HiredisPacking, connection_class), {}
        )
    return _PACKING_CLASSES[connection_class]


def connect_sync(url: str, **options: Any) -> redis.Redis:
    """A blocking client, cluster- and Sentinel-aware like connect(): for the CLI, tests and
    benchmarks."""
    if is_sentinel_url(url):
        return parse_sentinel_url(url).sync_primary(**options)
    if is_cluster_url(url):
        return cast(redis.Redis, redis.RedisCluster.from_url(url, **options))
    return redis.Redis.from_url(url, **options)


def node_of(client: Any, key: str) -> str:
    """host:port of the cluster node that serves ``key``'s slot; node_0 on a single Redis."""
    if not is_cluster(client):
        return "node_0"
    try:
        node = client.get_node_from_key(key)
    except (redis.exceptions.RedisClusterException, AttributeError, KeyError, TypeError):
        return "unknown"  # the client has not read the slot map yet
    return f"{node.host}:{node.port}"


def anonymous_names(addresses: Iterable[str]) -> dict[str, str]:
    """host:port of each node -> node_N, N its place in address order: what a node is
    called for those who may not learn the service's addresses."""
    return {address: f"node_{n}" for n, address in enumerate(sorted(addresses))}


def anonymous_node(client: Any, node: str) -> str:
    """``node`` (as node_of names it) as anonymous_names calls it."""
    if not is_cluster(client):
        return node
    primaries = [f"{n.host}:{n.port}" for n in client.get_primaries()]
    return anonymous_names(primaries).get(node, "unknown")


async def live_replicas(client: aioredis.Redis) -> int:
    """How many replicas the Sentinels see up beside the primary ``client`` writes to; 0
    for a Redis without Sentinel (or when no Sentinel answers)."""
    pool = getattr(client, "connection_pool", None)  # a cluster client has none
    if not isinstance(pool, aiosentinel.SentinelConnectionPool):
        return 0
    return len(await pool.sentinel_manager.discover_slaves(pool.service_name))


def is_cluster(client: Any) -> bool:
    """On a cluster, each script and multi-key command must stay within one slot."""
    return isinstance(client, aioredis.RedisCluster | redis.RedisCluster)


def lua_source(name: str, included: set[str] | None = None) -> str:
    """A script's text, with each ``--@include lib/NAME`` line replaced by that file (itself
    expanded: a library may use another), each library once."""
    included = set() if included is None else included
    lines = []
    for line in (LUA_DIR / f"{name}.lua").read_text().splitlines():
        if not line.startswith("--@include "):
            lines.append(line)
            continue
        library = line.split()[1]
        if library not in included:
            included.add(library)
            lines.append(lua_source(library, included))
    return "\n".join(lines)


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
        # execute_command: cluster pipelines refuse the evalsha() method, not the command
        pipe.execute_command("EVALSHA", self.shas[name], len(keys), *keys, *args)

    async def run(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        return await self.client.evalsha(self.shas[name], len(keys), *keys, *args)

    async def load(self) -> None:
        for source in self.sources.values():
            await self.client.script_load(source)


def redis_boundary(
    method: Callable[P, Coroutine[Any, Any, T]],
) -> Callable[P, Coroutine[Any, Any, T]]:
    """Turn 'Redis is unreachable' into StoreUnavailable with component "redis"."""

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
            raise StoreUnavailable(
                "redis", f"Redis is temporarily unavailable ({type(exc).__name__})"
            ) from exc

    return wrapper
