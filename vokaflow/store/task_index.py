"""Task search for the console: pages of task records by creation time, read from the task
indexes the scripts keep (lib/task_index.lua), never from a scan of the keyspace.

A page merges one index over every partition, newest (or oldest) first, and checks each
entry's record against the query: the owner always, exactly, whatever an index holds, and
what the index does not answer (name, priority, batch, workflow...). However sparse the
filters, one call looks at no more than EXAMINE_PER_CALL entries; a short page then comes
with a cursor to go on. A batch's or a workflow's tasks are read from its own list of ids.

Entries whose record has expired are dropped when a search meets them, and by the
scheduler's trim (``trim``), a bounded step per pass; records from before the indexes are
indexed once (``backfill_step``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from vokaflow.domain import Priority, TaskField, TaskStatus
from vokaflow.store.keys import Keys
from vokaflow.store.redis_client import LuaScripts, redis_boundary

MAX_LIMIT = 500
# Index entries one call looks at, at most: a sparse filter gives a short page and a cursor.
# 2,000 took a p95 of 194 ms on a 2-core machine over 1,000,000 tasks, at the console's bar.
EXAMINE_PER_CALL = 1000
# Entries read from one partition at a time: the first read is sized by the page, the next
# ones double, up to this.
MAX_CHUNK = 512
# The trim's step: ledger entries looked at per partition and pass.
TRIM_PER_PARTITION = 256
BACKFILL_STEP = 2000

CURSOR_VERSION = 1
MAX_CURSOR_CHARS = 2048
LEDGER = "all"
_FILTER_FIELDS = [TaskField.SPEC, TaskField.STATUS, TaskField.SCORE, TaskField.BATCH_ID]


@dataclass(frozen=True)
class TaskQuery:
    """What a search asks for. ``owner`` is set by the caller from the authenticated
    principal (None, every principal's tasks, for admins only); never from a cursor."""

    owner: str | None
    task_id: str | None = None  # an exact id: a direct lookup
    status: TaskStatus | None = None
    function_name: str | None = None
    name: str | None = None  # exact match, checked on each record
    priority: Priority | None = None  # checked on each record (its score, promotions too)
    batch_id: str | None = None
    workflow_id: str | None = None
    newest_first: bool = True

    def fingerprint(self) -> str:
        """Ties a cursor to the query it continues (a digest: a cursor shows no owner)."""
        fields = [
            self.owner,
            self.task_id,
            None if self.status is None else self.status.value,
            self.function_name,
            self.name,
            None if self.priority is None else self.priority.value,
            self.batch_id,
            self.workflow_id,
            self.newest_first,
        ]
        return hashlib.sha1(json.dumps(fields).encode()).hexdigest()[:16]

    def matches(self, record: dict[str, str]) -> bool:
        """Whether a record is one this query asks for: every filter, the owner exactly."""
        try:
            spec = json.loads(record[TaskField.SPEC])
        except (KeyError, TypeError, ValueError):
            return False
        if not isinstance(spec, dict):
            return False
        owner = spec.get("owner")
        return (
            (self.owner is None or (owner is not None and str(owner) == self.owner))
            and _is(self.task_id, spec.get("id"))
            and _is(self.status, record.get(TaskField.STATUS))
            and _is(self.function_name, spec.get("function_name"))
            and _is(self.name, spec.get("name"))
            and _is(self.batch_id, record.get(TaskField.BATCH_ID) or "")
            and _is(self.workflow_id, spec.get("workflow_id") or "")
            and (self.priority is None or _priority(record) is self.priority)
        )


def _is(wanted: str | None, value: Any) -> bool:
    return wanted is None or (value is not None and str(value) == wanted)


def _priority(record: dict[str, str]) -> Priority | None:
    try:
        return Priority.from_score(float(record[TaskField.SCORE]))
    except (KeyError, ValueError):
        return None


@dataclass(frozen=True)
class TaskPage:
    records: list[dict[str, str]]  # the task hashes, as TaskStore.get returns them, in order
    next_cursor: str | None  # opaque; None when nothing more
    examined: int  # index entries looked at


# ------------------------------------------------------------------------------ cursors


@dataclass(frozen=True)
class IndexPosition:
    """Where a page over an index stopped: its last entry looked at."""

    source: str  # which of the query's indexes the pages read
    score: float
    member: str


def encode_cursor(fingerprint: str, at: IndexPosition | int) -> str:
    """``at``: a position in an index, or how many ids of a batch's or workflow's list were
    looked at."""
    body: dict[str, Any] = {"v": CURSOR_VERSION, "q": fingerprint}
    if isinstance(at, IndexPosition):
        body |= {"i": at.source, "s": at.score, "m": at.member}
    else:
        body |= {"o": at}
    raw = json.dumps(body, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, fingerprint: str) -> IndexPosition | int:
    """The position a cursor holds; ValueError for anything but a cursor of this query."""
    body = _cursor_body(cursor)
    if body.get("v") != CURSOR_VERSION or body.get("q") != fingerprint:
        raise ValueError("the cursor belongs to another query")
    if set(body) == {"v", "q", "o"}:
        offset = body["o"]
        if type(offset) is not int or not 0 <= offset < 10**9:
            raise ValueError("malformed cursor")
        return offset
    if set(body) != {"v", "q", "i", "s", "m"}:
        raise ValueError("malformed cursor")
    source, score, member = body["i"], body["s"], body["m"]
    valid = (
        isinstance(source, str)
        and type(score) in (int, float)
        and math.isfinite(score)
        and abs(score) < 1e15
        and isinstance(member, str)
        and 0 < len(member) <= 1000
    )
    if not valid:
        raise ValueError("malformed cursor")
    return IndexPosition(source, float(score), member)


def _cursor_body(cursor: str) -> dict[str, Any]:
    if not isinstance(cursor, str) or not 0 < len(cursor) <= MAX_CURSOR_CHARS:
        raise ValueError("malformed cursor")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        body = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise ValueError("malformed cursor") from exc
    if not isinstance(body, dict):
        raise ValueError("malformed cursor")
    return body


# ------------------------------------------------------------------------------ reading


@dataclass(frozen=True)
class Entry:
    partition: int
    member: str
    score: float


def _order_key(entry: Entry) -> tuple[float, str]:
    return entry.score, entry.member


class _MergedIndex:
    """One index over every partition, in creation order, from a position on: each
    partition read in chunks (index_page.lua), merged."""

    def __init__(
        self, index: TaskIndex, keys: list[str], newest_first: bool, after: IndexPosition | None
    ) -> None:
        self.index = index
        self.keys = keys
        self.newest_first = newest_first
        self.positions: list[tuple[float, str] | None] = [
            None if after is None else (after.score, after.member)
        ] * len(keys)
        self.buffers: list[deque[Entry]] = [deque() for _ in keys]
        self.exhausted = [False] * len(keys)
        self.chunks = [0] * len(keys)

    @property
    def done(self) -> bool:
        return all(self.exhausted) and not any(self.buffers)

    async def take(self, n: int) -> list[Entry]:
        """The next ``n`` entries in order (fewer at the end)."""
        taken: list[Entry] = []
        pick = max if self.newest_first else min
        while len(taken) < n:
            await self._refill(n - len(taken))
            # now every partition with more to read has some buffered: merge until one
            # of those runs dry
            while len(taken) < n:
                buffered = [b for b in self.buffers if b]
                if not buffered:
                    return taken
                best = pick(buffered, key=lambda b: _order_key(b[0]))
                taken.append(best.popleft())
                if not best and not self.exhausted[taken[-1].partition]:
                    break
        return taken

    async def _refill(self, wanted: int) -> None:
        empty = [p for p, b in enumerate(self.buffers) if not b and not self.exhausted[p]]
        if not empty:
            return
        first = max(8, 2 * wanted // len(self.keys) + 4)
        pipe = self.index.redis.pipeline(transaction=False)
        for p in empty:
            self.chunks[p] = min(MAX_CHUNK, self.chunks[p] * 2 or first)
            at = self.positions[p]
            args = ["", "", "1" if self.newest_first else "0", self.chunks[p]]
            if at is not None:
                args[:2] = [repr(at[0]), at[1]]
            self.index.lua.queue(pipe, "index_page", [self.keys[p]], args)
        for p, flat in zip(empty, await pipe.execute(), strict=True):
            got = [Entry(p, str(m), float(s)) for m, s in zip(flat[::2], flat[1::2], strict=True)]
            self.buffers[p].extend(got)
            self.exhausted[p] = len(got) < self.chunks[p]
            if got:
                self.positions[p] = (got[-1].score, got[-1].member)


def _id_of(source: str, member: str) -> str:
    """The task id of an index member: the ledger's are 'OWNER:FUNCTION:ID'."""
    return member[34:] if source == LEDGER else member


_TASK_KEY = re.compile(r"^(?P<prefix>.+):\{p(?P<partition>\d+)\}:task:(?P<id>.+)$")


class TaskIndex:
    def __init__(self, client: aioredis.Redis, keys: Keys, retention_s: int = 0) -> None:
        self.redis = client
        self.keys = keys
        self.retention_ms = retention_s * 1000
        self.lua = LuaScripts(
            client, ["index_page", "index_forget", "index_trim", "index_backfill"]
        )
        self.trim_offsets = [0] * keys.partitions  # ledger entries the last step kept
        self._backfill_scan: AsyncIterator[Any] | None = None

    @redis_boundary
    async def search(
        self, query: TaskQuery, *, limit: int = 50, cursor: str | None = None
    ) -> TaskPage:
        """One page of the tasks ``query`` asks for, in creation order; ValueError for a
        limit out of 1..MAX_LIMIT or a cursor that is not one of this query's."""
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
        if query.task_id is not None:
            return await self._by_id(query)
        if query.batch_id is not None or query.workflow_id is not None:
            return await self._from_list(query, limit, cursor)
        return await self._from_index(query, limit, cursor)

    async def _by_id(self, query: TaskQuery) -> TaskPage:
        assert query.task_id is not None
        record = await self.redis.hgetall(self.keys.task(query.task_id))
        found = {str(k): str(v) for k, v in record.items()}
        return TaskPage([found] if found and query.matches(found) else [], None, 1)

    # -------------------------------------------------------------- pages over an index

    def _index_of(self, query: TaskQuery) -> tuple[str, Callable[[int], str]]:
        """The index that holds every task the query asks for, with its name: a live status's,
        a final status's, else the owner's, else the ledger."""
        keys, owner, status = self.keys, query.owner, query.status
        if status is not None and not status.is_terminal:
            return "live", lambda p: keys.index_live(p, owner)
        if status is not None:
            return "status", lambda p: keys.index_status(p, status.value, owner)
        if owner is not None:
            return "owner", lambda p: keys.index_owner(p, owner)
        return LEDGER, keys.index_ledger

    async def _from_index(self, query: TaskQuery, limit: int, cursor: str | None) -> TaskPage:
        source, key_of = self._index_of(query)
        after = None if cursor is None else decode_cursor(cursor, query.fingerprint())
        if isinstance(after, int) or (after is not None and after.source != source):
            raise ValueError("the cursor belongs to another query")
        merged = _MergedIndex(
            self, [key_of(p) for p in range(self.keys.partitions)], query.newest_first, after
        )
        matched: list[dict[str, str]] = []
        missing: dict[int, list[str]] = defaultdict(list)
        examined, last, left_over = 0, after, False
        while len(matched) < limit and examined < EXAMINE_PER_CALL:
            entries = await merged.take(self._batch_size(limit - len(matched), examined))
            if not entries:
                break
            ids = [_id_of(source, e.member) for e in entries]
            records = await self._matching(query, ids, limit - len(matched))
            left_over = len(records) < len(entries)
            for entry, record in zip(entries, records, strict=False):
                examined += 1
                last = IndexPosition(source, entry.score, entry.member)
                if record is None:
                    missing[entry.partition].append(entry.member)
                elif record:
                    matched.append(record)
        await self._forget(missing, key_of, source == LEDGER)
        more = last is not None and (left_over or not merged.done)
        cursor_out = encode_cursor(query.fingerprint(), last) if more and last else None
        return TaskPage(matched, cursor_out, examined)

    @staticmethod
    def _batch_size(needed: int, examined: int) -> int:
        """Entries to check at once: the page's remainder at first, more as a sparse filter
        leaves the page short, never past the call's bound."""
        grown = needed * (2 if examined else 1) + (examined // 2)
        return max(1, min(EXAMINE_PER_CALL - examined, grown, MAX_CHUNK * 2))

    async def _matching(
        self, query: TaskQuery, ids: Sequence[str], wanted: int
    ) -> list[dict[str, str] | None]:
        """Each id's record where it matches, {} where it does not, None where it is gone;
        only as far as the ``wanted``-th match (the list is that long)."""
        pipe = self.redis.pipeline(transaction=False)
        for task_id in ids:
            pipe.hmget(self.keys.task(task_id), _FILTER_FIELDS)
        verdicts: list[dict[str, str] | None] = []
        hits: list[int] = []
        for values in await pipe.execute():
            if all(v is None for v in values):
                verdicts.append(None)
                continue
            fields = {f: str(v) for f, v in zip(_FILTER_FIELDS, values, strict=True) if v}
            verdicts.append({})
            if query.matches(fields):
                hits.append(len(verdicts) - 1)
                if len(hits) == wanted:
                    break
        await self._fill(query, ids, verdicts, hits)
        return verdicts

    async def _fill(
        self,
        query: TaskQuery,
        ids: Sequence[str],
        verdicts: list[dict[str, str] | None],
        hits: list[int],
    ) -> None:
        """The whole records of the hits, checked again: a status may have moved on."""
        if not hits:
            return
        pipe = self.redis.pipeline(transaction=False)
        for i in hits:
            pipe.hgetall(self.keys.task(ids[i]))
        for i, raw in zip(hits, await pipe.execute(), strict=True):
            record = {str(k): str(v) for k, v in raw.items()}
            verdicts[i] = record if query.matches(record) else ({} if record else None)

    async def _forget(
        self, missing: dict[int, list[str]], key_of: Callable[[int], str], ledger: bool
    ) -> None:
        """Drop the entries met whose record is gone (index_forget.lua checks again)."""
        if not missing:
            return
        pipe = self.redis.pipeline(transaction=False)
        for p, members in missing.items():
            args = [self.keys.partition_prefix(p), "1" if ledger else "0", *members]
            self.lua.queue(pipe, "index_forget", [key_of(p)], args)
        await pipe.execute()

    # ----------------------------------------------------- pages over a batch or workflow

    async def _from_list(self, query: TaskQuery, limit: int, cursor: str | None) -> TaskPage:
        """A batch's or a workflow's tasks, in submission order (they share one creation
        time), or the reverse for newest first."""
        start = 0 if cursor is None else decode_cursor(cursor, query.fingerprint())
        if not isinstance(start, int):
            raise ValueError("the cursor belongs to another query")
        ids_at = await self._list_reader(query)
        matched: list[dict[str, str]] = []
        offset, examined, exhausted, left_over = start, 0, False, False
        while len(matched) < limit and examined < EXAMINE_PER_CALL and not exhausted:
            count = self._batch_size(limit - len(matched), examined)
            ids = await ids_at(offset, count)
            exhausted = len(ids) < count
            records = await self._matching(query, ids, limit - len(matched))
            left_over = len(records) < len(ids)
            for record in records:
                examined += 1
                offset += 1
                if record:
                    matched.append(record)
        more = left_over or not exhausted
        return TaskPage(
            matched, encode_cursor(query.fingerprint(), offset) if more else None, examined
        )

    async def _list_reader(self, query: TaskQuery) -> Callable[[int, int], Any]:
        """Reads ``count`` ids of the batch's (else the workflow's) list from ``offset`` in
        the query's order; nothing when the list is not the query owner's."""
        if query.batch_id is not None:
            return await self._batch_ids(query, query.batch_id)
        assert query.workflow_id is not None
        fields = await self.redis.hmget(self.keys.workflow(query.workflow_id), ["owner", "nodes"])
        owner, nodes = fields
        ids: list[str] = []
        if nodes is not None and (query.owner is None or owner == query.owner):
            ids = [str(node[1]) for node in json.loads(nodes)]
        if query.newest_first:
            ids.reverse()

        async def slice_of(offset: int, count: int) -> list[str]:
            return ids[offset : offset + count]

        return slice_of

    async def _batch_ids(self, query: TaskQuery, batch_id: str) -> Callable[[int, int], Any]:
        owner = await self.redis.hget(self.keys.batch(batch_id), "owner")
        visible = owner is not None and (query.owner is None or owner == query.owner)
        key = self.keys.batch_tasks(batch_id)

        async def slice_of(offset: int, count: int) -> list[str]:
            if not visible:
                return []
            if not query.newest_first:
                return [str(i) for i in await self.redis.lrange(key, offset, offset + count - 1)]
            found = await self.redis.lrange(key, -(offset + count), -(offset + 1))
            return [str(i) for i in reversed(found)]

        return slice_of

    # ------------------------------------------------------------------------- upkeep

    @redis_boundary
    async def trim(self, now_ms: int) -> int:
        """One bounded step of dropping the entries of expired records: in each partition,
        at most TRIM_PER_PARTITION ledger entries created before the retention could have
        expired them, going on past those kept at the last step. Returns how many tasks'
        entries were dropped; nothing to do when records are kept forever."""
        if not self.retention_ms:
            return 0
        cutoff = now_ms - self.retention_ms
        pipe = self.redis.pipeline(transaction=False)
        for p in range(self.keys.partitions):
            args = [self.keys.partition_prefix(p), cutoff, self.trim_offsets[p], TRIM_PER_PARTITION]
            self.lua.queue(pipe, "index_trim", [self.keys.index_ledger(p)], args)
        dropped = 0
        for p, (looked, gone) in enumerate(await pipe.execute()):
            full = int(looked) == TRIM_PER_PARTITION
            self.trim_offsets[p] = self.trim_offsets[p] + int(looked) - int(gone) if full else 0
            dropped += int(gone)
        return dropped

    @redis_boundary
    async def backfill_step(self, most: int = BACKFILL_STEP) -> bool:
        """Index up to ``most`` more records from before the task indexes, found with SCAN
        (a one-off migration, not a page); True once every record is (a marker key
        remembers it for good). A step that fails starts the scan over: indexing is
        idempotent."""
        if await self.redis.exists(self.keys.task_index_backfilled):
            return True
        if self._backfill_scan is None:
            pattern = f"{self.keys.prefix}:{{p*}}:task:*"
            self._backfill_scan = self.redis.scan_iter(match=pattern, count=1000)
        by_partition: dict[int, list[str]] = defaultdict(list)
        finished = True
        try:
            async for key in self._backfill_scan:
                self._add_found(by_partition, str(key))
                if sum(len(ids) for ids in by_partition.values()) >= most:
                    finished = False
                    break
        except BaseException:
            self._backfill_scan = None
            raise
        await self._index_found(by_partition)
        if finished:
            self._backfill_scan = None
            await self.redis.set(self.keys.task_index_backfilled, "1")
        return finished

    def _add_found(self, by_partition: dict[int, list[str]], key: str) -> None:
        """A key that is a task record of this service (not one that only looks like it)."""
        found = _TASK_KEY.match(key)
        if found is None or found["prefix"] != self.keys.prefix:
            return
        task_id = found["id"]
        if self.keys.task(task_id) == key:
            by_partition[self.keys.partition(task_id)].append(task_id)

    async def _index_found(self, by_partition: dict[int, list[str]]) -> None:
        if not by_partition:
            return
        pipe = self.redis.pipeline(transaction=False)
        for p, ids in by_partition.items():
            args = [self.keys.partition_prefix(p), *ids]
            self.lua.queue(pipe, "index_backfill", [self.keys.index_ledger(p)], args)
        await pipe.execute()
