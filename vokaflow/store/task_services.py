"""What a running task function may reach in Redis, each part scoped to the task's
principal: its streams and channels, its saved ml models, its fine-tuned Vicky models, and
its own progress. A function never gets a Redis client."""

from __future__ import annotations

import contextlib
import functools
import json
from typing import Any

import redis

from vokaflow.config import Settings
from vokaflow.store.keys import Keys
from vokaflow.store.redis_client import connect_sync
from vokaflow.store.tenant_channels import StreamLimits, TenantChannels
from vokaflow.store.trained_models import OwnTrainedModels, TrainedModels


@functools.cache
def _client(url: str) -> redis.Redis:
    """One blocking client per worker process and Redis."""
    return connect_sync(url, decode_responses=True, socket_timeout=2.0)


class ModelRecords:
    """The saved ml models this service trained (Keys.ml_models), as one data scope sees
    them: an entry is the model's name, after ``<data scope>/`` for a principal's own
    models (an admin's tasks have no data scope)."""

    def __init__(self, client: redis.Redis, keys: Keys, data_scope: str) -> None:
        self.redis = client
        self.key = keys.ml_models
        self.data_scope = data_scope

    def entry(self, name: str) -> str:
        return f"{self.data_scope}/{name}" if self.data_scope else name

    def get(self, name: str) -> dict[str, Any] | None:
        """The record (sha256, path, trained_at) of the model ``name``, if it was trained."""
        raw = self.redis.hget(self.key, self.entry(name))
        return None if raw is None else dict(json.loads(str(raw)))

    def put(self, name: str, record: dict[str, Any]) -> None:
        self.redis.hset(self.key, self.entry(name), json.dumps(record))


class TaskServices:
    def __init__(
        self, redis_url: str, settings: Settings, task_id: str, owner: str, data_scope: str
    ) -> None:
        self._url = redis_url
        self.settings = settings
        self.keys = Keys(settings.key_prefix, settings.partitions)
        self.task_id = task_id
        self.owner = owner
        self.data_scope = data_scope

    @property
    def _redis(self) -> redis.Redis:
        return _client(self._url)

    @functools.cached_property
    def channels(self) -> TenantChannels:
        """The principal's streams and channels (never the service's own)."""
        settings = self.settings
        limits = StreamLimits(
            settings.tenant_streams_max,
            settings.tenant_stream_maxlen,
            settings.tenant_stream_max_bytes,
            settings.tenant_stream_ttl_s,
        )
        return TenantChannels(self._redis, self.keys, self.owner, limits)

    @functools.cached_property
    def model_records(self) -> ModelRecords:
        return ModelRecords(self._redis, self.keys, self.data_scope)

    @functools.cached_property
    def trained_models(self) -> OwnTrainedModels:
        models = TrainedModels(self._redis, self.keys)
        return OwnTrainedModels(models, self.owner, is_admin=not self.data_scope)

    def write_progress(self, progress: dict[str, Any]) -> None:
        """Advisory: a Redis failure here never fails the task."""
        with contextlib.suppress(redis.RedisError):
            self._redis.hset(self.keys.task(self.task_id), "progress", json.dumps(progress))
