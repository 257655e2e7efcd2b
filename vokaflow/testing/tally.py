"""The tally of a drill: every accepted task ended in exactly one terminal state, none is
missing, and how many ran again: what the chaos tests and the soak benchmark check, read
from Redis itself. (Not bulk_insert's ledger of applied tasks in the target database.)"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from vokaflow.domain import FINISHED, TaskStatus
from vokaflow.store.keys import Keys
from vokaflow.store.redis_client import connect_sync
from vokaflow.testing.stack import LocalStack

TERMINAL = {status.value for status in FINISHED}
READ_PAGE = 10_000


@dataclass
class Tally:
    missing: list[str]
    unfinished: list[str]
    by_status: dict[str, int]
    ran_again: int  # tasks dispatched again after a system failure: at-least-once delivery


def read_tally(stack: LocalStack, task_ids: list[str]) -> Tally:
    client = connect_sync(stack.redis_url, decode_responses=True)
    keys = Keys(stack.key_prefix, 16)
    rows: list[list[str | None]] = []
    for start in range(0, len(task_ids), READ_PAGE):
        pipe = client.pipeline(transaction=False)
        for task_id in task_ids[start : start + READ_PAGE]:
            pipe.hmget(keys.task(task_id), ["status", "system_retries"])
        rows += pipe.execute()
    missing = [t for t, (status, _) in zip(task_ids, rows, strict=True) if status is None]
    unfinished = [
        t
        for t, (status, _) in zip(task_ids, rows, strict=True)
        if status and status not in TERMINAL
    ]
    by_status: dict[str, int] = {}
    for status, _ in rows:
        if status:
            by_status[status] = by_status.get(status, 0) + 1
    ran_again = sum(1 for _, system_retries in rows if system_retries and int(system_retries))
    return Tally(missing, unfinished, by_status, ran_again)


def wait_all_terminal(stack: LocalStack, task_ids: list[str], timeout_s: float) -> Tally:
    deadline = time.monotonic() + timeout_s
    while True:
        tally = read_tally(stack, task_ids)
        if not tally.unfinished or time.monotonic() > deadline:
            return tally
        time.sleep(0.5)


def completed_count(stack: LocalStack, task_ids: list[str]) -> int:
    return read_tally(stack, task_ids).by_status.get(TaskStatus.COMPLETED.value, 0)


def task_ids_named(stack: LocalStack, name: str) -> list[str]:
    """The ids of every task record with this name, scanned in Redis itself."""
    client = connect_sync(stack.redis_url, decode_responses=True)
    try:
        found = []
        for key in client.scan_iter(match=f"{stack.key_prefix}:*:task:*", count=1000):
            spec = client.hget(key, "spec")
            if spec and json.loads(spec).get("name") == name:
                found.append(key.rsplit(":", 1)[1])
        return found
    finally:
        client.close()
