"""Fine-tuned models belong to the principal that trained them.

Each lives in one Redis hash (Keys.trained_models) under an internal id,
``<name>@<owner tag>``, which also names its Serve application (``vicky-<internal id>``)
and its folder. The owner calls the model by its ``name``; an admin calls another
principal's model by its internal id; to anyone else it does not exist. Two principals may
train models of the same name, so trying a name tells no one whether another principal
uses it. While a model trains, its entry is only a claim (owner, name, task); the spec is
added once the model is served.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import redis

from vokaflow.schemas import TaskStatus
from vokaflow.store.keys import Keys
from vokaflow.vicky.registry import ModelRegistry, ModelSpec, UnknownModel

log = logging.getLogger("vokaflow.vicky")

SEPARATOR = "@"  # never in a model name (see datasets.MODEL_ID): an internal id is no name
OWNER_TAG_CHARS = 16
# Entries written before models had owners are the built-in admin key's (named by `up`).
LEGACY_OWNER = "admin"


def owner_tag(owner: str) -> str:
    return hashlib.sha256(owner.encode()).hexdigest()[:OWNER_TAG_CHARS]


def internal_id(owner: str, name: str) -> str:
    return f"{name}{SEPARATOR}{owner_tag(owner)}"


@dataclass(frozen=True)
class TrainedEntry:
    key: str  # the internal id: the hash field, the Serve application's and folder's name
    owner: str
    name: str  # what the owner calls the model
    task_id: str  # the training that claimed (and made) it
    spec: ModelSpec | None = None  # None while that training runs; spec.model_id == key

    def to_json(self) -> str:
        entry: dict[str, Any] = {"owner": self.owner, "name": self.name, "task_id": self.task_id}
        if self.spec is not None:
            entry["spec"] = {
                k: v for k, v in dataclasses.asdict(self.spec).items() if k != "model_id"
            }
        return json.dumps(entry)


def read_entries(raw: Mapping[Any, Any]) -> list[TrainedEntry]:
    """The hash's entries; an unreadable one is skipped with a warning."""
    entries = []
    for key, value in raw.items():
        try:
            entries.append(_entry(str(key), json.loads(str(value))))
        except (TypeError, ValueError, KeyError):
            log.warning("skipping the unreadable trained-model entry %r", key)
    return entries


def _entry(key: str, data: dict[str, Any]) -> TrainedEntry:
    if "owner" not in data:  # a bare spec, written before models had owners
        return TrainedEntry(key, LEGACY_OWNER, key, "", ModelSpec(model_id=key, **data))
    spec = data.get("spec")
    return TrainedEntry(
        key,
        str(data["owner"]),
        str(data["name"]),
        str(data["task_id"]),
        None if spec is None else ModelSpec(model_id=key, **spec),
    )


def served(entries: Iterable[TrainedEntry]) -> list[ModelSpec]:
    """The specs of the trained models (not the ones still training)."""
    return [entry.spec for entry in entries if entry.spec is not None]


class VisibleModels:
    """The models one principal may use, by the id it calls them: every base model, its own
    trained models by name and, for an admin, everyone else's by internal id."""

    def __init__(
        self, base: ModelRegistry, trained: Iterable[TrainedEntry], principal: str, is_admin: bool
    ) -> None:
        self._specs: dict[str, ModelSpec] = {}
        self.owners: dict[str, str] = {}  # the trained ones' owners, by the id used here
        for entry in trained:
            mine = entry.owner == principal
            if entry.spec is None or not (mine or is_admin):
                continue
            model_id = entry.name if mine else entry.key
            self._specs[model_id] = entry.spec
            self.owners[model_id] = entry.owner
        for model_id in base.ids():  # a base model is never shadowed
            self._specs[model_id] = base.get(model_id)
            self.owners.pop(model_id, None)

    def get(self, model_id: str) -> ModelSpec:
        """The spec; UnknownModel, listing only these ids, for a model this principal may
        not see as for one that does not exist."""
        try:
            return self._specs[model_id]
        except KeyError:
            raise UnknownModel(model_id, self._specs) from None

    def ids(self) -> list[str]:
        return sorted(self._specs)

    def __contains__(self, model_id: object) -> bool:
        return model_id in self._specs


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
