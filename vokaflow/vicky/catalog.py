"""The models a gateway knows (the registry file plus fine-tuned ones kept in Redis), which
of them a principal may use, and which are deployed on Serve."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

from ray import serve

from vokaflow.domain.principal import Principal
from vokaflow.vicky.deployment import app_name
from vokaflow.vicky.registry import ModelRegistry
from vokaflow.vicky.trained import TrainedEntry, VisibleModels

REFRESH_S = 2.0
MISS_REFRESH_S = 0.2  # a model trained a moment ago is looked for again, at most this often
# States in which an application may answer (an update or one sick replica of several).
SERVING = {"RUNNING", "DEPLOYING", "UNHEALTHY"}


class TrainedEntries(Protocol):
    """Where the fine-tuned models are read from: the store's TrainedModelsReader."""

    async def entries(self) -> list[TrainedEntry]: ...


class ModelCatalog:
    def __init__(self, trained: TrainedEntries) -> None:
        self.trained = trained
        self._base = ModelRegistry()
        self._trained: list[TrainedEntry] = []
        self._trained_read_at = float("-inf")
        self._deployed: set[str] = set()
        self._deployed_read_at = float("-inf")

    async def visible(self, principal: Principal, wanted: str | None = None) -> VisibleModels:
        """The models ``principal`` may use, with the fine-tuned ones read again at most every
        REFRESH_S, or sooner when ``wanted`` is not among them."""
        models = await self._visible(principal, REFRESH_S)
        if wanted is not None and wanted not in models:
            models = await self._visible(principal, MISS_REFRESH_S)
        return models

    async def _visible(self, principal: Principal, max_age_s: float) -> VisibleModels:
        if time.monotonic() - self._trained_read_at >= max_age_s:
            self._trained_read_at = time.monotonic()
            self._trained = await self.trained.entries()
        return VisibleModels(self._base, self._trained, principal.name, principal.is_admin)

    async def is_deployed(self, model_id: str) -> bool:
        """Whether Serve runs the application of the model (its internal id); a miss is
        checked again at once, so a model deployed a moment ago is found."""
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
