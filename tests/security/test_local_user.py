"""Another user of the machine may read any file that its mode lets it: nothing of the
service's, or of any tenant's, may be readable to it. (The embedded Redis's own defences:
tests/redis/test_embedded_redis_for_other_users.py.)"""

from __future__ import annotations

from pathlib import Path

from tests.integration.helpers import submit, wait_until
from tests.security.attacks import open_to_others


def test_backups_and_large_results_are_the_service_user_s_only(stack, api, tenant):
    backup = _completed(api, "backup_state", label="local-user")
    rows = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000) "
    query = rows + "SELECT i, printf('%040d', i) AS padded FROM n"
    result = _completed(tenant(), "complex_query", query=query)
    assert result["stored_because"] == "too_large"
    written = [Path(backup["path"]), Path(result["result_path"])]
    folders = [path.parent for path in written]
    kept = [stack.home / "admin_key", stack.home / "jwt_secret", stack.home / "ray_head"]
    assert [path for path in written + folders + kept if open_to_others(path)] == []


def _completed(client, function_name: str, **kwargs):
    task = submit(client, function_name, kwargs=kwargs, retry_count=0)
    done = wait_until(client, task["task_id"])
    assert done["status"] == "completed", done
    return done["result"]
