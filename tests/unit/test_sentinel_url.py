"""The redis+sentinel:// URL: the Sentinels, the service, the primary's credentials and
options as redis-py reads them from a redis:// URL, and the Sentinels' own credentials; and
which clients have replicas for the schedule firer to wait for."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from vokaflow.runtime.job_secrets import without_password
from vokaflow.store.redis_client import is_cluster_url, live_replicas
from vokaflow.store.sentinel import is_sentinel_url, parse_sentinel_url


def test_the_sentinels_the_service_and_the_db():
    url = parse_sentinel_url("redis+sentinel://s1.internal:26380,s2.internal,[::1]:5000/main/3")
    assert url.sentinels == (("s1.internal", 26380), ("s2.internal", 26379), ("::1", 5000))
    assert url.service == "main"
    assert url.primary == {"db": 3}
    assert url.sentinel == {}


def test_the_user_part_and_options_are_the_primary_s_and_sentinel_credentials_the_sentinels():
    url = parse_sentinel_url(
        "redis+sentinel://app:p%40ss@s1:26379/main"
        "?sentinel_password=watch&socket_timeout=3&sentinel_username=w"
    )
    assert url.primary == {"db": 0, "username": "app", "password": "p@ss", "socket_timeout": 3.0}
    assert url.sentinel == {"sentinel_password": "watch", "sentinel_username": "w"}
    assert url.service == "main"


def test_rediss_sentinel_speaks_tls_to_the_primary():
    assert parse_sentinel_url("rediss+sentinel://s1/main/0").primary == {"db": 0, "ssl": True}


@pytest.mark.parametrize(
    "url", ["redis+sentinel://s1:26379", "redis+sentinel://s1:26379/", "redis+sentinel:///main"]
)
def test_a_url_without_a_sentinel_or_a_service_is_refused(url):
    with pytest.raises(ValueError):
        parse_sentinel_url(url)


def test_only_the_sentinel_schemes_are_sentinel_urls_and_none_is_a_cluster():
    assert is_sentinel_url("REDIS+SENTINEL://s1/main")
    assert not is_sentinel_url("redis://127.0.0.1:6379/0")
    assert not is_cluster_url("redis+sentinel://127.0.0.1:1/main")  # asks no server


def test_its_passwords_are_masked_where_the_service_shows_the_url():
    shown = without_password(
        "redis+sentinel://:secret@s1:26379,s2:26379/main/0?sentinel_password=watch"
    )
    assert "secret" not in shown and "watch" not in shown
    assert "@s1:26379,s2:26379/main/0?sentinel_password=" in shown


async def test_a_client_not_behind_sentinel_counts_no_replica_to_wait_for():
    """Asks no server: a single Redis or a cluster has no replica Sentinel could promote."""
    single = aioredis.Redis.from_url("redis://127.0.0.1:1/0")
    cluster = aioredis.RedisCluster(host="127.0.0.1", port=1)
    assert await live_replicas(single) == 0
    assert await live_replicas(cluster) == 0
    await single.aclose()
