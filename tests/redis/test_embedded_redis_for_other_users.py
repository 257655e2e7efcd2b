"""Security: another user of the machine: it may connect to any loopback port and read any file that
its mode lets it. The embedded Redis must refuse it, and nothing of the service's, or of
any tenant's, may be readable to it."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from tests.security.attacks import open_to_others
from vokaflow.store.embedded import EmbeddedRedis


@pytest.fixture
def embedded(tmp_path: Path):
    server = EmbeddedRedis(tmp_path / "home")
    yield server
    server.stop()


def test_the_embedded_redis_refuses_a_client_without_its_password(embedded):
    url = embedded.start()
    port = redis.Redis.from_url(url).connection_pool.connection_kwargs["port"]
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(host="127.0.0.1", port=port).get("anything")
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(host="127.0.0.1", port=port, password="guess").ping()
    assert redis.Redis.from_url(url).ping()


def test_the_embedded_redis_folder_url_and_append_only_file_are_its_user_s_only(embedded):
    embedded.dir.mkdir(parents=True, mode=0o755)  # made earlier, open to all
    embedded.dir.chmod(0o755)
    url = embedded.start()
    redis.Redis.from_url(url).set("tenant-data", "secret")
    files = [path for path in embedded.dir.rglob("*") if path.is_file()]
    assert embedded.url_file in files
    assert any(path.name.startswith("appendonly") for path in files), files
    assert [path for path in [embedded.dir, *files] if open_to_others(path)] == []
