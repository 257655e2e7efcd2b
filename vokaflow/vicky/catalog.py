"""The models a gateway knows (the registry file plus fine-tuned ones kept in Redis) and
which of them are deployed on Serve."""

from __future__ import annotations

import asyncio
import time

import redis.asyncio as aioredis
from ray import serve

from vokaflow.store.keys import Keys
from vokaflow.store.redis_client import redis_boundary
from vokaflow.vicky.deployment import app_name
from vokaflow.vicky.registry import ModelRegistry, ModelSpec, spec_json, specs_from_json

REFRESH_S = 2.0
# States in which an application may answer (an update or one sick replica of several).
SERVING = {"RUNNING", "DEPLOYING", "UNHEALTHY"}


class ModelCatalog:
    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self.redis = client
        self.keys = keys
        self._registry = ModelRegistry()
        self._trained_read_at = float("-inf")
        self._deployed: set[str] = set()
        self._deployed_read_at = float("-inf")

    @redis_boundary
    async def registry(self) -> ModelRegistry:
        """The registry, with the fine-tuned models read again at most every REFRESH_S."""
        if time.monotonic() - self._trained_read_at >= REFRESH_S:
            self._trained_read_at = time.monotonic()
            stored = await self.redis.hgetall(self.keys.trained_models)
            for spec in specs_from_json(stored):
                self._registry.register(spec)
        return self._registry

    @redis_boundary
    async def register(self, spec: ModelSpec) -> None:
        await self.redis.hset(self.keys.trained_models, spec.model_id, spec_json(spec))
        self._trained_read_at = float("-inf")

    async def is_deployed(self, model_id: str) -> bool:
        """Whether Serve runs the model's application; a miss is checked again at once, so
        a model deployed a moment ago is found."""
        if model_id not in self._deployed or time.monotonic() - self._deployed_read_at > 60:
            await self._read_deployed()
        return model_id in self._deployed

    async def _read_deployed(self) -> None:
        if time.monotonic() - self._deployed_read_at < 0.2:
            return
        status = await asyncio.to_thread(serve.status)
        prefix = app_name("")
        self._deployed = {
            name[len(prefix) :]
            for name, app in status.applications.items()
            if name.startswith(prefix) and str(app.status).rsplit(".", 1)[-1] in SERVING
        }
        self._deployed_read_at = time.monotonic()
