"""Redis behind Sentinel: the URL that names it, and clients that follow its failovers.

redis-py has Sentinel clients but no URL for them; this is the form other Python projects
use (redis-sentinel-url, LangChain, RedisVL, Prefect):

    redis+sentinel://[USER:PASSWORD@]HOST[:PORT][,HOST[:PORT]...]/SERVICE[/DB][?OPTIONS]

The hosts are the Sentinels (port 26379 unless given), SERVICE the name they monitor the
primary under. The user part and the options are the primary's, as in a redis:// URL;
``sentinel_username`` and ``sentinel_password`` are the Sentinels' own, when they demand
one. ``rediss+sentinel://`` speaks TLS to the primary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

import redis
import redis.asyncio as aioredis
import redis.asyncio.sentinel as aiosentinel
import redis.sentinel
from redis.connection import parse_url

SCHEMES = ("redis+sentinel", "rediss+sentinel")
SENTINEL_PORT = 26379
_SENTINEL_OPTIONS = ("sentinel_username", "sentinel_password")


@dataclass(frozen=True)
class SentinelURL:
    sentinels: tuple[tuple[str, int], ...]
    service: str
    primary: dict[str, Any] = field(default_factory=dict)  # connection options: db, password…
    sentinel: dict[str, Any] = field(default_factory=dict)  # the Sentinels' credentials

    def async_primary(self, **options: Any) -> aioredis.Redis:
        """A client of whichever server the Sentinels call the primary now: a connection
        that finds the old primary gone, or turned replica (READONLY), asks them again."""
        sentinels = aiosentinel.Sentinel(self.sentinels, sentinel_kwargs=self._asking(options))
        client = sentinels.master_for(self.service, aioredis.Redis, **self._primary(options))
        pool = client.connection_pool
        pool.connection_class = type(
            f"Following{pool.connection_class.__name__}",
            (_FollowingThePrimary, pool.connection_class),
            {},
        )
        return client

    def sync_primary(self, **options: Any) -> redis.Redis:
        sentinels = redis.sentinel.Sentinel(self.sentinels, sentinel_kwargs=self._asking(options))
        return sentinels.master_for(self.service, redis.Redis, **self._primary(options))

    def _asking(self, options: dict[str, Any]) -> dict[str, Any]:
        timeouts = {k: v for k, v in options.items() if k.startswith("socket_")}
        return {**timeouts, **self.sentinel}

    def _primary(self, options: dict[str, Any]) -> dict[str, Any]:
        # What the URL says wins over the caller's defaults, as with Redis.from_url.
        return {**options, **self.primary}


class _FollowingThePrimary:
    """redis-py's asyncio Sentinel connection asks the Sentinels for the primary when the
    pool hands it out, but a command's retry reconnects it to the address it had: after a
    failover, to the old primary each time, and the retries are spent on it. This one asks
    on every reconnect."""

    connection_pool: Any
    is_connected: bool
    host: str
    port: int

    async def connect_check_health(
        self, check_health: bool = True, retry_socket_connect: bool = True
    ) -> None:
        if not self.is_connected and self.connection_pool.is_master:
            self.host, self.port = await self.connection_pool.get_master_address()
        await super().connect_check_health(check_health, retry_socket_connect)  # type: ignore[misc]


def is_sentinel_url(url: str) -> bool:
    return url.partition("://")[0].lower() in SCHEMES


def parse_sentinel_url(url: str) -> SentinelURL:
    """The Sentinels, service and options a ``redis+sentinel://`` URL names; ValueError when
    it names no Sentinel or no service."""
    scheme, _, rest = url.partition("://")
    if scheme.lower() not in SCHEMES:
        raise ValueError(f"not a Sentinel URL: scheme {scheme!r}")
    netloc, slash, path_and_query = rest.partition("/")
    userinfo, at, hosts = netloc.rpartition("@")
    path, _, query = path_and_query.partition("?")
    service, _, db = path.partition("/")
    if not slash or not service or not hosts:
        raise ValueError("a Sentinel URL needs HOST[:PORT],.../SERVICE")
    options = parse_qsl(query, keep_blank_values=True)
    sentinel = {name: value for name, value in options if name in _SENTINEL_OPTIONS}
    kept = urlencode([(name, value) for name, value in options if name not in sentinel])
    # redis-py reads the primary's part (credentials, db, options) as it reads any URL.
    primary = parse_url(f"redis://{userinfo}{at}primary/{db or 0}?{kept}")
    primary.pop("host")
    if scheme.lower() == "rediss+sentinel":
        primary["ssl"] = True  # the pool picks its TLS connection class from this
    return SentinelURL(
        tuple(_sentinel_address(host) for host in hosts.split(",")),
        unquote(service),
        primary,
        sentinel,
    )


def _sentinel_address(host: str) -> tuple[str, int]:
    parts = urlsplit(f"//{host}")
    if not parts.hostname:
        raise ValueError(f"a Sentinel URL names an empty host in {host!r}")
    return parts.hostname, parts.port or SENTINEL_PORT
