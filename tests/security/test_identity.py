"""Findings 6 and 7: names and rights.

A principal's name decides what it owns, its credential what it may do. So two names never
share a data scope, a non-admin credential can never carry the built-in admin's name (nor
any name an admin already holds), and a dead letter requeued by anyone runs with its
owner's rights, checked again at requeue and in the worker."""

from __future__ import annotations

import hashlib
import json
import time
import uuid

from tests.integration.helpers import submit, wait_until
from tests.security.attacks import bearer_client, run_task, signed_token
from vokaflow.store.keys import Keys
from vokaflow.store.redis_client import connect_sync


def test_a_name_that_looks_like_a_hashed_folder_gets_a_folder_of_its_own(stack, data_root):
    """`alice@example.com` is unsafe as a folder name and is hashed to 32 hex digits; a key
    named with exactly those digits must not land in the same folder."""
    email = f"alice-{uuid.uuid4().hex[:6]}@example.com"
    lookalike = hashlib.sha256(email.encode()).hexdigest()[:32]
    with (
        bearer_client(stack, signed_token(stack, email)) as alice,
        bearer_client(stack, signed_token(stack, lookalike)) as mallory,
    ):
        wrote = run_task(alice, "bulk_insert", kwargs={"table": "secrets", "data": [{"pin": 1234}]})
        assert wrote["status"] == "completed", wrote
        peek = run_task(mallory, "complex_query", kwargs={"query": "SELECT * FROM secrets"})
        assert peek["status"] == "failed", "mallory reads alice's default database"
        assert "no such table" in json.dumps(peek["error"])


def test_the_admin_s_dead_letters_stay_the_admin_s(stack, api, tenant):
    failed = submit(api, "raise_error", "admin's failure", retry_count=0)
    wait_until(api, failed["task_id"])
    requeue = f"/api/high-scale-tasks/dead-letters/{failed['task_id']}/requeue"
    assert tenant().post(requeue).status_code == 404
    impostor = stack.cli("keys", "create", "--name", "admin", check=False)
    if impostor.returncode == 0:  # the hole: a user key named admin owned the admin's work
        with stack.client(api_key=impostor.stdout.strip().splitlines()[-1]) as fake_admin:
            assert fake_admin.get("/api/high-scale-tasks/dead-letters").json()["total"] == 0
            assert fake_admin.post(requeue).status_code == 404
    assert impostor.returncode != 0


def _plant_dead_letter(stack, owner: str, function_name: str) -> str:
    """A dead letter as an older version could have left it: a user's task that calls an
    admin-only function."""
    keys = Keys(stack.key_prefix, 16)
    redis = connect_sync(stack.redis_url, decode_responses=True)
    task_id = str(uuid.uuid4())
    partition = keys.partition(task_id)
    spec = {
        "id": task_id,
        "name": "planted",
        "function_name": function_name,
        "args": [],
        "kwargs": {},
        "category": "system",
        "timeout": 60,
        "max_retries": 0,
        "metadata": {},
        "created_at": time.time(),
        "partition": partition,
        "owner": owner,
        "data_scope": owner,
    }
    redis.hset(
        keys.task(task_id),
        mapping={
            "spec": json.dumps(spec),
            "status": "failed",
            "priority": "NORMAL",
            "level": 3,
            "worker_type": "GENERAL_PURPOSE",
            "score": 0,
            "attempts": 1,
        },
    )
    now_ms = int(time.time() * 1000)
    redis.zadd(keys.dead_letters(partition), {task_id: now_ms})
    redis.zadd(keys.owner_dead_letters(partition, owner), {task_id: now_ms})
    return task_id


def test_a_requeued_dead_letter_is_checked_against_its_owner_s_rights(stack, api, tenant):
    owner = f"owner-{uuid.uuid4().hex[:6]}"
    client = tenant(owner)
    task_id = _plant_dead_letter(stack, owner, "backup_state")
    for requeuer in (client, api):  # the owner, and an admin acting on its behalf
        reply = requeuer.post(f"/api/high-scale-tasks/dead-letters/{task_id}/requeue")
        assert reply.status_code == 409, reply.text
        assert "admin" in reply.json()["message"]
