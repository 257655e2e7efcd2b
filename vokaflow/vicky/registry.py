"""Model ids -> ModelSpec, from models/registry.yaml: the base models, which every principal
may use (fine-tuned ones are in vokaflow.vicky.trained)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

import vokaflow

REPO_ROOT = Path(vokaflow.__file__).resolve().parents[1]
DEFAULT_REGISTRY = REPO_ROOT / "models" / "registry.yaml"
REGISTRY_ENV = "VOKAFLOW_MODEL_REGISTRY"

DTYPES = ("auto", "float32", "float16", "bfloat16")


def check_placement(model_id: str, device: str, dtype: str) -> None:
    """A registry entry's ``device`` and ``dtype`` (Vicky's models and speech models)."""
    if dtype not in DTYPES:
        raise ValueError(f"{model_id}: dtype must be one of {DTYPES}, not {dtype!r}")
    if not (device in ("auto", "cpu", "cuda") or device.startswith("cuda:")):
        raise ValueError(f"{model_id}: device must be auto, cpu, cuda or cuda:N")


class UnknownModel(KeyError):
    def __init__(self, model_id: str, known_ids: Iterable[str]) -> None:
        self.model_id = model_id
        self.known_ids = sorted(known_ids)
        super().__init__(model_id)

    def __str__(self) -> str:
        return f"unknown model {self.model_id!r}; known models: {', '.join(self.known_ids)}"


@dataclass(frozen=True)
class ModelSpec:
    """How to load and serve one model.

    `source` is an absolute directory or a hub id (`org/name`) looked up in the local cache.
    """

    model_id: str
    source: str
    dtype: str = "auto"
    device: str = "auto"
    num_gpus: float = 0
    num_cpus: float = 1
    max_batch_size: int = 8
    max_new_tokens: int = 512
    context_window: int = 4096
    chat_template: str | None = None
    version: str = ""

    def __post_init__(self) -> None:
        check_placement(self.model_id, self.device, self.dtype)
        if self.max_batch_size < 1 or self.max_new_tokens < 1:
            raise ValueError(f"{self.model_id}: max_batch_size and max_new_tokens must be >= 1")
        if self.context_window <= self.max_new_tokens:
            raise ValueError(f"{self.model_id}: context_window must exceed max_new_tokens")
        if not self.version:
            object.__setattr__(self, "version", self.model_id)

    @property
    def is_local(self) -> bool:
        return Path(self.source).is_absolute()

    @classmethod
    def from_mapping(
        cls, model_id: str, data: Mapping[str, Any], root: Path = REPO_ROOT
    ) -> ModelSpec:
        known = {f.name for f in fields(cls)} - {"model_id"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"{model_id}: unknown registry fields {sorted(unknown)}")
        if "source" not in data:
            raise ValueError(f"{model_id}: registry entry needs a source")
        values = {k: v for k, v in data.items() if v is not None or k == "chat_template"}
        values["source"] = resolve_source(str(data["source"]), root)
        if "version" in values:
            values["version"] = str(values["version"])
        return cls(model_id=model_id, **values)


def resolve_source(source: str, root: Path = REPO_ROOT) -> str:
    """An absolute directory for a local source, the hub id unchanged otherwise.

    `org/name` is read as a hub id unless `org` is a directory under `root` (as `models/` is),
    so a local model that is not built yet still resolves to its directory.
    """
    path = Path(source).expanduser()
    if path.is_absolute():
        return str(path)
    parts = path.parts
    looks_like_hub_id = len(parts) == 2 and not source.startswith(".")
    if looks_like_hub_id and not (root / parts[0]).is_dir():
        return source
    return str((root / path).resolve())


def registry_path() -> Path:
    return Path(os.environ.get(REGISTRY_ENV) or DEFAULT_REGISTRY)


def load_registry_file(path: Path, root: Path = REPO_ROOT) -> dict[str, ModelSpec]:
    data = yaml.safe_load(path.read_text()) or {}
    entries = data.get("models") or {}
    return {
        str(mid): ModelSpec.from_mapping(str(mid), entry or {}, root)
        for mid, entry in entries.items()
    }


class ModelRegistry:
    """The registry file's models plus `extra` ones (tests add them), which win on a clash."""

    def __init__(
        self,
        path: Path | str | None = None,
        extra: Mapping[str, ModelSpec | Mapping[str, Any]] | Iterable[ModelSpec] | None = None,
    ) -> None:
        self.path = Path(path) if path is not None else registry_path()
        self._specs = load_registry_file(self.path)
        for spec in _as_specs(extra):
            self.register(spec)

    def register(self, spec: ModelSpec) -> None:
        self._specs[spec.model_id] = spec

    def get(self, model_id: str) -> ModelSpec:
        try:
            return self._specs[model_id]
        except KeyError:
            raise UnknownModel(model_id, self._specs) from None

    def ids(self) -> list[str]:
        return sorted(self._specs)

    def __contains__(self, model_id: object) -> bool:
        return model_id in self._specs


def _as_specs(
    extra: Mapping[str, ModelSpec | Mapping[str, Any]] | Iterable[ModelSpec] | None,
) -> list[ModelSpec]:
    if extra is None:
        return []
    if isinstance(extra, Mapping):
        return [
            v if isinstance(v, ModelSpec) else ModelSpec.from_mapping(k, v)
            for k, v in extra.items()
        ]
    return list(extra)
