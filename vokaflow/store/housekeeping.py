"""The system functions' Redis chores (vokaflow.functions.system): finished task keys that
lack their retention TTL, orphan logs and dead letters, log streams over their cap.

Only keys under the service's prefix are touched, found with SCAN (never KEYS). A change
that must not race the scheduler is made by a Lua script that checks and acts at once.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

import redis

from vokaflow.domain import FINISHED
from vokaflow.store.keys import Keys
from vokaflow.store.logs import OWNER_LOG_MAX_LEN, SYSTEM_LOG_MAX_LEN
from vokaflow.store.redis_client import connect_sync, lua_source

SCAN_PAGE = 500
FINISHED_STATUSES = tuple(status.value for status in FINISHED)


def pages(items: Iterator[Any], size: int = SCAN_PAGE) -> Iterator[list[Any]]:
    page: list[Any] = []
    for item in items:
        page.append(item)
        if len(page) == size:
            yield page
            page = []
    if page:
        yield page


class Housekeeping:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.redis = client
        self.keys = keys

    def tidy(self, retention_s: int, dry_run: bool) -> dict[str, int]:
        """Finished task records and their logs that lack the retention TTL get it, logs of
        records that are gone are deleted, and dead letters whose records are gone are
        dropped. No other key is touched."""
        retention_ms, dry = retention_s * 1000, "1" if dry_run else "0"
        counts = {"records_scanned": 0, "records_expired": 0}
        if retention_ms:  # 0: the service keeps finished records forever on purpose
            counts = self._expire_finished_records(retention_ms, dry)
        return {
            **counts,
            **self._expire_finished_logs(retention_ms, dry),
            "dead_letters_dropped": self._drop_orphan_dead_letters(dry_run),
        }

    def trim_log_streams(self) -> dict[str, int]:
        """Each log stream back to its cap (approximately: whole stream nodes go), as the
        writers do on every append; returns the entries removed per stream."""
        keys, client = self.keys, self.redis
        caps = {keys.system_log: SYSTEM_LOG_MAX_LEN, keys.task_event_log: SYSTEM_LOG_MAX_LEN}
        owners = client.scan_iter(match=keys.owner_log("*"), count=1000, _type="stream")
        caps.update({str(stream): OWNER_LOG_MAX_LEN for stream in owners})
        return {
            stream: int(client.xtrim(stream, maxlen=cap, approximate=True))
            for stream, cap in caps.items()
        }

    def _task_ids(self, kind: str) -> Iterator[list[str]]:
        """Pages of the ids of the tasks that have a key of ``kind`` (``task``: a record,
        ``log``: a log list), from SCAN; a key that only looks like one is skipped."""
        keys = self.keys
        pattern = re.compile(rf"^{re.escape(keys.prefix)}:\{{p\d+\}}:{kind}:(.+)$")
        key_of = keys.task if kind == "task" else keys.task_log
        found_keys = self.redis.scan_iter(match=f"{keys.prefix}:{{p*}}:{kind}:*", count=1000)
        for page in pages(found_keys):
            found = (pattern.match(key) for key in page)
            yield [m.group(1) for m in found if m is not None and key_of(m.group(1)) == m.group(0)]

    def _expire_finished_records(self, retention_ms: int, dry: str) -> dict[str, int]:
        script = lua_source("expire_finished_record")
        counts = {"records_scanned": 0, "records_expired": 0}
        for ids in self._task_ids("task"):
            pipe = self.redis.pipeline(transaction=False)
            for task_id in ids:
                script_args = (retention_ms, dry, *FINISHED_STATUSES)
                pipe.execute_command("EVAL", script, 1, self.keys.task(task_id), *script_args)
            counts["records_scanned"] += len(ids)
            counts["records_expired"] += sum(int(n) for n in pipe.execute())
        return counts

    def _expire_finished_logs(self, retention_ms: int, dry: str) -> dict[str, int]:
        script = lua_source("expire_finished_log")
        counts = {"logs_scanned": 0, "logs_expired": 0, "logs_deleted": 0}
        for ids in self._task_ids("log"):
            pipe = self.redis.pipeline(transaction=False)
            for task_id in ids:
                both = (self.keys.task_log(task_id), self.keys.task(task_id))
                script_args = (retention_ms, dry, *FINISHED_STATUSES)
                pipe.execute_command("EVAL", script, 2, *both, *script_args)
            outcomes = [int(n) for n in pipe.execute()]
            counts["logs_scanned"] += len(ids)
            counts["logs_expired"] += outcomes.count(1)
            counts["logs_deleted"] += outcomes.count(2)
        return counts

    def _drop_orphan_dead_letters(self, dry_run: bool) -> int:
        """A dead letter whose record has gone cannot be requeued or read: only noise."""
        dropped = 0
        for partition in range(self.keys.partitions):
            dead = self.keys.dead_letters(partition)
            for page in pages(self.redis.zscan_iter(dead, count=1000)):
                ids = [str(task_id) for task_id, _ in page]
                pipe = self.redis.pipeline(transaction=False)
                for task_id in ids:
                    pipe.exists(self.keys.task(task_id))
                there = pipe.execute()
                gone = [task_id for task_id, kept in zip(ids, there, strict=True) if not kept]
                if gone and not dry_run:
                    self.redis.zrem(dead, *gone)
                dropped += len(gone)
        return dropped


@contextlib.contextmanager
def housekeeping(url: str, keys: Keys) -> Iterator[Housekeeping]:
    """The chores on a blocking client of their own (a chore may take long), closed after."""
    with contextlib.closing(connect_sync(url, decode_responses=True, socket_timeout=30.0)) as c:
        yield Housekeeping(c, keys)
