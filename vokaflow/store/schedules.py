"""Schedules in Redis: each a hash (spec JSON, version, next fire), indexed per owner and
globally, with a zset of the active ones by next fire time and a zset of claimed fires
waiting to be submitted. Every key shares the ``{sched}`` hash tag, so one script claims a
fire, advances the schedule and queues the fire (schedule_claim.lua)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from vokaflow.domain.schedule import Schedule
from vokaflow.store.errors import StoreUnavailable
from vokaflow.store.keys import Keys
from vokaflow.store.redis_client import LuaScripts, live_replicas, redis_boundary

RUNS_KEPT = 20
# How long the firer waits for the replicas to confirm its claims before it gives up the
# tick (and tries again at the next): well within the 1 s tick.
REPLICA_WAIT_MS = 500
_FIELDS = ("spec", "version", "next_fire")


class Changed(Exception):
    """The schedule changed (or was deleted) since it was read."""


@dataclass(frozen=True, order=True)
class Fire:
    """A claimed fire waiting to be submitted."""

    schedule_id: str
    fire_at: int

    @property
    def member(self) -> str:
        return f"{self.schedule_id}|{self.fire_at}"

    @classmethod
    def of(cls, member: str) -> Fire:
        schedule_id, _, fire_at = member.rpartition("|")
        return cls(schedule_id, int(fire_at))


@dataclass(frozen=True)
class Run:
    """One of a schedule's latest fires: its time, its task, and whether it still waits to
    be submitted (a rate limit refused it so far)."""

    fire_at: int
    task_id: str
    waiting: bool


class ScheduleStore:
    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self.redis = client
        self.keys = keys
        self.lua = LuaScripts(
            client, ["schedule_create", "schedule_change", "schedule_delete", "schedule_claim"]
        )

    @redis_boundary
    async def create(self, schedule: Schedule, cap: int) -> bool:
        """Write a new schedule; False when its owner already has ``cap`` schedules."""
        k = self.keys
        keys = [
            k.schedule(schedule.schedule_id),
            k.schedules_due,
            k.owner_schedules(schedule.owner),
            k.schedule_index,
        ]
        args = [schedule.schedule_id, cap, *self._written(schedule)]
        return bool(await self.lua.run("schedule_create", keys, args))

    @redis_boundary
    async def change(self, read: Schedule, changed: Schedule) -> None:
        """Replace ``read`` with ``changed``; Changed when someone else changed it first."""
        keys = [self.keys.schedule(read.schedule_id), self.keys.schedules_due]
        args = [read.schedule_id, read.version, *self._written(changed)]
        if int(await self.lua.run("schedule_change", keys, args)) != 1:
            raise Changed(read.schedule_id)

    @staticmethod
    def _written(schedule: Schedule) -> list[str | int]:
        next_fire = "" if schedule.next_fire is None else schedule.next_fire
        return [schedule.spec_json(), schedule.version, next_fire]

    @redis_boundary
    async def delete(self, schedule: Schedule) -> bool:
        k = self.keys
        keys = [
            k.schedule(schedule.schedule_id),
            k.schedules_due,
            k.owner_schedules(schedule.owner),
            k.schedule_index,
            k.schedule_runs(schedule.schedule_id),
        ]
        return bool(await self.lua.run("schedule_delete", keys, [schedule.schedule_id]))

    @redis_boundary
    async def get(self, schedule_id: str) -> Schedule | None:
        return (await self.get_many([schedule_id]))[0]

    @redis_boundary
    async def get_many(self, schedule_ids: Sequence[str]) -> list[Schedule | None]:
        pipe = self.redis.pipeline(transaction=False)
        for schedule_id in schedule_ids:
            pipe.hmget(self.keys.schedule(schedule_id), list(_FIELDS))
        found: list[Schedule | None] = []
        for schedule_id, (spec, version, next_fire) in zip(
            schedule_ids, await pipe.execute(), strict=True
        ):
            found.append(
                None
                if spec is None
                else Schedule.from_record(schedule_id, spec, int(version), next_fire or "")
            )
        return found

    @redis_boundary
    async def of_owner(self, owner: str) -> list[Schedule]:
        return await self._present(await self.redis.smembers(self.keys.owner_schedules(owner)))

    @redis_boundary
    async def every(self) -> list[Schedule]:
        return await self._present(await self.redis.smembers(self.keys.schedule_index))

    async def _present(self, ids: Any) -> list[Schedule]:
        found = await self.get_many(sorted(str(i) for i in ids))
        return sorted((s for s in found if s is not None), key=lambda s: s.created_at)

    @redis_boundary
    async def runs(self, schedule_id: str, count: int = RUNS_KEPT) -> list[Run]:
        """The latest fires, newest first."""
        members = await self.redis.zrevrange(self.keys.schedule_runs(schedule_id), 0, count - 1)
        fired = [str(member).partition("|") for member in members]
        if not fired:
            return []
        waiting = await self.redis.zmscore(
            self.keys.schedule_fires, [f"{schedule_id}|{fire_at}" for fire_at, _, _ in fired]
        )
        return [
            Run(int(fire_at), task_id, score is not None)
            for (fire_at, _, task_id), score in zip(fired, waiting, strict=True)
        ]

    # The firer's side

    @redis_boundary
    async def due(self, now_s: float, most: int) -> list[Schedule]:
        """Active schedules whose next fire is at or before now, earliest first."""
        ids = await self.redis.zrangebyscore(self.keys.schedules_due, "-inf", now_s, 0, most)
        return [s for s in await self.get_many([str(i) for i in ids]) if s is not None]

    @redis_boundary
    async def claim(
        self,
        schedule: Schedule,
        next_fire: int | None,
        fire_at: int | None,
        task_id: str,
        now_s: float,
    ) -> bool:
        """Move a due schedule to ``next_fire`` and queue the fire at ``fire_at`` (if any),
        only if it is still as read; False when another firer or a change came first."""
        assert schedule.next_fire is not None
        k = self.keys
        keys = [
            k.schedule(schedule.schedule_id),
            k.schedules_due,
            k.schedule_fires,
            k.schedule_runs(schedule.schedule_id),
        ]
        args = [
            schedule.schedule_id,
            schedule.version,
            schedule.next_fire,
            "" if next_fire is None else next_fire,
            "" if fire_at is None else fire_at,
            task_id,
            RUNS_KEPT,
            repr(now_s),
        ]
        return bool(await self.lua.run("schedule_claim", keys, args))

    @redis_boundary
    async def fires_due(self, now_s: float, most: int) -> list[Fire]:
        """Claimed fires to submit now (new ones, and ones a rate limit put off)."""
        members = await self.redis.zrangebyscore(self.keys.schedule_fires, "-inf", now_s, 0, most)
        return [Fire.of(str(member)) for member in members]

    @redis_boundary
    async def replicated(self) -> None:
        """Return once every replica that Sentinel sees up has every write this primary
        made so far, the fires' claims among them, so that whichever one a failover
        promotes has them; StoreUnavailable when they do not confirm within
        REPLICA_WAIT_MS (a replica behind, or this primary already replaced). A Redis
        without Sentinel has no replica to wait for.

        Every replica, not one: in a failover the old primary keeps the other replicas for
        a moment after one was promoted, and a write they confirm then is lost.
        WAIT counts up to its own connection's last write; the counter's INCR on the same
        connection makes that the primary's latest write, whoever made the claims."""
        replicas = await live_replicas(self.redis)
        if not replicas:
            return
        pipe = self.redis.pipeline(transaction=False)
        pipe.incr(self.keys.schedules_replicated)
        pipe.wait(replicas, REPLICA_WAIT_MS)
        _, confirmed = await pipe.execute()
        if int(confirmed) < replicas:
            raise StoreUnavailable("redis", "the Redis replicas did not confirm the claims")

    @redis_boundary
    async def put_off(self, fire: Fire, until_s: float) -> None:
        await self.redis.zadd(self.keys.schedule_fires, {fire.member: until_s}, xx=True)

    @redis_boundary
    async def submitted(self, fire: Fire) -> None:
        await self.redis.zrem(self.keys.schedule_fires, fire.member)
