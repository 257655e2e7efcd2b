"""The fine-tuned models' hash (Keys.trained_models): what vokaflow.vicky.trained describes,
as Redis holds it. Blocking calls, for the task worker and `vokaflow up`; the gateway reads
the same hash with TrainedModelsReader."""

from __future__ import annotations

import dataclasses
from typing import Any

import redis
import redis.asyncio as aioredis

from vokaflow.domain import TaskStatus
from vokaflow.store.keys import Keys
from vokaflow.store.redis_client import redis_boundary
from vokaflow.vicky.registry import ModelRegistry, ModelSpec
from vokaflow.vicky.trained import TrainedEntry, VisibleModels, internal_id, read_entries


class TrainedModels:
    """The trained models' hash, for the task worker and `vokaflow up` (blocking calls)."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.redis = client
        self.keys = keys
        self.key = keys.trained_models

    def entries(self) -> list[TrainedEntry]:
        return read_entries(self.redis.hgetall(self.key))

    def visible(self, principal: str, is_admin: bool) -> VisibleModels:
        return VisibleModels(ModelRegistry(), self.entries(), principal, is_admin)

    def claim(self, owner: str, name: str, task_id: str, limit: int) -> TrainedEntry:
        """Claim ``name`` for the owner's training ``task_id``, or ValueError: the owner
        already has a model of that name, another of its tasks is training one, or it has
        ``limit`` models (trained or training). A retry of the same task keeps its claim;
        a claim whose task has ended (its worker died) no longer counts."""
        wanted = TrainedEntry(internal_id(owner, name), owner, name, task_id)

        def check_and_claim(pipe: Any) -> None:
            entries = read_entries(pipe.hgetall(self.key))
            held = [e for e in entries if e.owner == owner and self._holds(e, task_id)]
            current = next((e for e in held if e.key == wanted.key), None)
            if current is not None and current.spec is not None:
                raise ValueError(f"model id {name!r} is taken")
            if current is not None and current.task_id != task_id:
                raise ValueError(f"model {name!r} is being trained by task {current.task_id}")
            if len([e for e in held if e.key != wanted.key]) >= limit:
                raise ValueError(
                    f"you have {limit} trained models, the most a principal may have "
                    "(VOKAFLOW_VICKY_MAX_TRAINED_PER_PRINCIPAL)"
                )
            stale = [e.key for e in entries if e.owner == owner and e not in held]
            pipe.multi()
            if stale:
                pipe.hdel(self.key, *stale)
            pipe.hset(self.key, wanted.key, wanted.to_json())

        self.redis.transaction(check_and_claim, self.key)
        return wanted

    def finish(self, claim: TrainedEntry, spec: ModelSpec) -> None:
        self.redis.hset(self.key, claim.key, dataclasses.replace(claim, spec=spec).to_json())

    def release(self, claim: TrainedEntry) -> None:
        """Drop the claim of a training that failed, unless it is no longer this one's."""

        def drop_if_unchanged(pipe: Any) -> None:
            if pipe.hget(self.key, claim.key) == claim.to_json():
                pipe.multi()
                pipe.hdel(self.key, claim.key)

        self.redis.transaction(drop_if_unchanged, self.key)

    def _holds(self, entry: TrainedEntry, task_id: str) -> bool:
        """Whether the entry counts: a model, or the claim of a task that may still run."""
        if entry.spec is not None or entry.task_id == task_id:
            return True
        status = self.redis.hget(self.keys.task(entry.task_id), "status")
        return status is not None and not TaskStatus(status).is_terminal


class TrainedModelsReader:
    """The same hash, read by the gateway (asyncio)."""

    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self.redis = client
        self.key = keys.trained_models

    @redis_boundary
    async def entries(self) -> list[TrainedEntry]:
        return read_entries(await self.redis.hgetall(self.key))


class OwnTrainedModels:
    """A task's view of the hash: the models its principal may use, and claims made in that
    principal's name only."""

    def __init__(self, models: TrainedModels, owner: str, is_admin: bool) -> None:
        self._models = models
        self.owner = owner
        self.is_admin = is_admin

    def visible(self) -> VisibleModels:
        return self._models.visible(self.owner, self.is_admin)

    def claim(self, name: str, task_id: str, limit: int) -> TrainedEntry:
        return self._models.claim(self.owner, name, task_id, limit)

    def finish(self, claim: TrainedEntry, spec: ModelSpec) -> None:
        self._models.finish(self._own(claim), spec)

    def release(self, claim: TrainedEntry) -> None:
        self._models.release(self._own(claim))

    def _own(self, claim: TrainedEntry) -> TrainedEntry:
        if claim.owner != self.owner:
            raise PermissionError(f"model {claim.name!r} is not {self.owner}'s")
        return claim
