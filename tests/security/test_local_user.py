"""Another user of the machine: it may connect to any loopback port and read any file that
its mode lets it. The embedded Redis must refuse it, and nothing of the service's, or of
any tenant's, may be readable to it."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import redis

from tests.integration.helpers import submit, wait_until
from vokaflow.store.embedded import EmbeddedRedis


def _open_to_others(path: Path) -> bool:
    """Whether a user other than the owner (in its group or not) may read or enter it."""
    return bool(path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))


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
    assert [path for path in [embedded.dir, *files] if _open_to_others(path)] == []


def test_backups_and_large_results_are_the_service_user_s_only(stack, api, tenant):
    backup = _completed(api, "backup_state", label="local-user")
    rows = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000) "
    query = rows + "SELECT i, printf('%040d', i) AS padded FROM n"
    result = _completed(tenant(), "complex_query", query=query)
    assert result["stored_because"] == "too_large"
    written = [Path(backup["path"]), Path(result["result_path"])]
    folders = [path.parent for path in written]
    kept = [stack.home / "admin_key", stack.home / "jwt_secret", stack.home / "ray_head"]
    assert [path for path in written + folders + kept if _open_to_others(path)] == []


def _completed(client, function_name: str, **kwargs):
    task = submit(client, function_name, kwargs=kwargs, retry_count=0)
    done = wait_until(client, task["task_id"])
    assert done["status"] == "completed", done
    return done["result"]
