"""Fine-tuned models belong to the principal that trained them.

Each lives in one Redis hash (Keys.trained_models, kept by vokaflow.store.trained_models)
under an internal id, ``<name>@<owner tag>``, which also names its Serve application
(``vicky-<internal id>``) and its folder. The owner calls the model by its ``name``; an
admin calls another principal's model by its internal id; to anyone else it does not
exist. Two principals may train models of the same name, so trying a name tells no one
whether another principal uses it. While a model trains, its entry is only a claim
(owner, name, task); the spec is added once the model is served.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

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
