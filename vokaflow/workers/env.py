"""What the scheduler hands every chunk it dispatches: the Redis URL, the settings and the
plugins to load, put in Ray's object store once and shared by the chunks of one worker."""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from vokaflow.config import Settings
from vokaflow.functions.data_roots import ScopedContexts


@dataclass(frozen=True)
class WorkerEnv:
    """Handed to every chunk by the scheduler (put in Ray's object store once)."""

    redis_url: str = field(repr=False)  # may hold a password, as the settings may
    settings_wire: dict[str, Any] = field(repr=False)
    plugins: tuple[str, ...] = ()  # apart from the settings: read per task, parsed never

    def __reduce__(self) -> tuple[Any, ...]:
        # Ray unpickles the env afresh for every chunk, and building its Settings took a
        # third of a short chunk's time. Unpickling hands back the instance this process
        # already holds for the same content, settings built.
        fields = (self.redis_url, self.settings_wire, self.plugins)
        return (_shared_env, (self._fingerprint, *fields))

    @functools.cached_property
    def _fingerprint(self) -> str:
        content = [self.redis_url, self.settings_wire, self.plugins]
        return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()

    @functools.cached_property
    def settings(self) -> Settings:
        return Settings.from_wire(self.settings_wire)

    @functools.cached_property
    def _argument_contexts(self) -> ScopedContexts:
        return ScopedContexts(self.settings)

    def argument_context(self, data_scope: str) -> dict[str, Any]:
        """What argument validators check against for a task of ``data_scope``; built once
        per scope, not per task."""
        return self._argument_contexts.for_scope(data_scope)


_SHARED_ENVS: dict[str, WorkerEnv] = {}
MAX_SHARED_ENVS = 8  # one per scheduler start, in practice


def _shared_env(
    fingerprint: str, redis_url: str, settings_wire: dict[str, Any], plugins: tuple[str, ...]
) -> WorkerEnv:
    env = _SHARED_ENVS.get(fingerprint)
    if env is None:
        if len(_SHARED_ENVS) >= MAX_SHARED_ENVS:
            _SHARED_ENVS.clear()
        env = _SHARED_ENVS[fingerprint] = WorkerEnv(redis_url, settings_wire, plugins)
    return env
