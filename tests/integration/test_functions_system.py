"""The housekeeping ``system`` functions through the HTTP API, against the stack's own data
root, VOKAFLOW_HOME and Redis key prefix."""

from __future__ import annotations

import gzip
import os
import time
from typing import Any

import pytest

from tests.integration.helpers import wait_until
from vokaflow.functions import system
from vokaflow.store.backups import restore_backup
from vokaflow.store.keys import Keys
from vokaflow.store.redis_client import connect_sync

SUBMIT = "/api/high-scale-tasks/submit"
PARTITIONS = 16  # the stack's default


def _post(api, function_name: str, **kwargs: Any):
    body = {"name": f"test {function_name}", "function_name": function_name, "kwargs": kwargs}
    return api.post(SUBMIT, json={**body, "retry_count": 0})


def _result(api, function_name: str, **kwargs: Any) -> Any:
    reply = _post(api, function_name, **kwargs)
    assert reply.status_code == 200, reply.text
    done = wait_until(api, reply.json()["task_id"], timeout_s=120)
    assert done["status"] == "completed", done
    return done["result"]


def _aged(path, content: bytes, age_s: float):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    then = time.time() - age_s
    os.utime(path, (then, then))
    return path


@pytest.fixture
def redis_client(stack):
    client = connect_sync(stack.redis_url, decode_responses=True)
    yield client
    client.close()


def test_cache_cleanup_removes_old_files_and_keeps_new_ones(api, data_root):
    old = _aged(data_root / "tmp" / "old.bin", b"x" * 1000, 48 * 3600)
    old_result = _aged(data_root / "results" / "old-task.json", b"{}", 48 * 3600)
    new = _aged(data_root / "tmp" / "new.bin", b"y", 0)
    result = _result(api, "cache_cleanup", older_than_hours=24)
    assert result["files_removed"] >= 2 and result["bytes_freed"] >= 1002
    assert not old.exists() and not old_result.exists()
    assert new.exists()


def test_a_dry_run_of_cache_cleanup_removes_nothing(api, data_root):
    old = _aged(data_root / "tmp" / "dry.bin", b"x" * 10, 48 * 3600)
    result = _result(api, "cache_cleanup", older_than_hours=24, dry_run=True)
    assert result["dry_run"] is True and result["files_removed"] >= 1
    assert old.exists()
    old.unlink()


def test_cache_cleanup_gives_a_finished_record_without_ttl_its_retention(api, stack, redis_client):
    keys = Keys(stack.key_prefix, PARTITIONS)
    finished, queued = keys.task("cleanup-finished"), keys.task("cleanup-queued")
    orphan_log = keys.task_log("cleanup-no-record")
    redis_client.hset(finished, mapping={"status": "completed"})
    redis_client.hset(queued, mapping={"status": "queued"})
    redis_client.rpush(orphan_log, '{"line": "left behind"}')
    try:
        result = _result(api, "cache_cleanup", older_than_hours=24)
        assert result["redis"]["records_expired"] >= 1
        assert result["redis"]["logs_deleted"] >= 1
        assert redis_client.ttl(finished) > 0
        assert redis_client.ttl(queued) == -1  # a queued task's record must never expire
        assert not redis_client.exists(orphan_log)
    finally:
        redis_client.delete(finished, queued, orphan_log)


def test_log_rotation_gzips_a_big_log_and_empties_it(api, stack):
    log = stack.home / "logs" / "gateway.log"
    content = b"".join(b"line %d of the gateway's log\n" % n for n in range(10_000))
    _aged(log, content, 0)
    result = _result(api, "log_rotation", max_bytes=100_000, keep=2)
    assert {"path": str(log), "bytes": len(content)} in result["rotated"]
    assert log.read_bytes() == b""
    assert gzip.decompress((log.parent / "gateway.log.1.gz").read_bytes()) == content
    assert Keys(stack.key_prefix, PARTITIONS).system_log in result["streams_trimmed"]


def test_log_rotation_removes_ended_ray_sessions_and_never_a_live_one(api):
    """Asks to keep no ended session, so it also clears earlier runs' sessions here."""
    live = system.live_ray_sessions()
    assert live, "the stack's Ray session should be live"
    ended = next(iter(live)).parent / "session_2000-01-01_00-00-00_000000_1"
    (ended / "logs").mkdir(parents=True, exist_ok=True)
    (ended / "logs" / "raylet.out").write_text("an old session's log")
    for path in (ended / "logs" / "raylet.out", ended / "logs", ended):
        os.utime(path, (0, 0))
    result = _result(api, "log_rotation", ray_sessions_kept=0)
    assert {"path": str(ended), "bytes": 20} in result["ray_sessions_removed"]
    assert not ended.exists()
    assert all(session.exists() for session in live)


def test_a_backup_restores_a_key_under_another_prefix(api, stack, data_root, redis_client):
    key = f"{stack.key_prefix}:backup-test"
    redis_client.set(key, "hello", ex=3600)
    redis_client.hset(f"{stack.key_prefix}:backup-test-hash", mapping={"a": "1", "b": "2"})
    copy = f"{stack.key_prefix}-restored"
    raw = connect_sync(stack.redis_url)
    try:
        result = _result(api, "backup_state", label="itest")
        assert result["path"].startswith(str(data_root / "backups"))
        assert result["path"].endswith("-itest.rdbdump")
        assert result["keys"] >= 2 and result["bytes"] > 0
        restored = restore_backup(result["path"], raw, prefix=copy)
        assert restored["keys"] == result["keys"] - restored["expired"]
        assert redis_client.get(f"{copy}:backup-test") == "hello"
        assert 0 < redis_client.ttl(f"{copy}:backup-test") <= 3600
        assert redis_client.hgetall(f"{copy}:backup-test-hash") == {"a": "1", "b": "2"}
    finally:
        for restored_key in redis_client.scan_iter(match=f"{copy}:*", count=1000):
            redis_client.delete(restored_key)
        redis_client.delete(key, f"{stack.key_prefix}:backup-test-hash")
        raw.close()
