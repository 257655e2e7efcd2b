"""The embedded Redis is a real server with the append-only file on."""

from __future__ import annotations

import redis

from vokaflow.store.embedded import EmbeddedRedis


def test_the_embedded_redis_runs_with_aof_and_keeps_data_across_a_restart(tmp_path):
    embedded = EmbeddedRedis(tmp_path)
    url = embedded.start()
    try:
        client = redis.Redis.from_url(url, decode_responses=True)
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("appendfsync") == {"appendfsync": "everysec"}
        client.set("survives", "yes")
        assert embedded.stop()
        assert embedded.url() is None
        url = embedded.start()
        assert redis.Redis.from_url(url, decode_responses=True).get("survives") == "yes"
        assert (tmp_path / "redis").is_dir()
    finally:
        embedded.stop()


def test_starting_the_embedded_redis_twice_reuses_the_running_server(tmp_path):
    embedded = EmbeddedRedis(tmp_path)
    try:
        assert embedded.start() == embedded.start()
    finally:
        embedded.stop()
