"""Where a model's weights are, without importing torch: the gateway checks a model it does
not serve yet, and the loader finds the directory to load."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

from vokaflow.vicky.registry import ModelSpec

WEIGHT_PATTERNS = ("*.safetensors", "*.bin", "*.safetensors.index.json", "*.bin.index.json")
MAX_SAFETENSORS_HEADER = 100 * 1024 * 1024  # the format's own limit


class WeightsMissing(FileNotFoundError):
    def __init__(self, model_id: str, looked_in: list[str]) -> None:
        self.model_id = model_id
        self.looked_in = looked_in
        super().__init__(model_id)

    def __str__(self) -> str:
        return (
            f"no weights for model {self.model_id!r}; looked in: {', '.join(self.looked_in)}. "
            "Weights are never downloaded at run time: build or copy them there first."
        )


def hub_cache_dir() -> Path:
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def hub_repo_dir(hub_id: str) -> Path:
    return hub_cache_dir() / ("models--" + hub_id.replace("/", "--"))


def has_weights(directory: Path) -> bool:
    if not (directory / "config.json").is_file():
        return False
    # exists() follows the hub cache's snapshot symlinks, so a dangling blob link is no weight.
    return any(p.exists() for pattern in WEIGHT_PATTERNS for p in directory.glob(pattern))


def weights_dir(spec: ModelSpec) -> Path:
    """The directory holding the spec's weights, or WeightsMissing naming where it looked."""
    if spec.is_local:
        directory = Path(spec.source)
        if has_weights(directory):
            return directory
        raise WeightsMissing(spec.model_id, [str(directory)])
    repo = hub_repo_dir(spec.source)
    for snapshot in _snapshots(repo):
        if has_weights(snapshot):
            return snapshot
    raise WeightsMissing(spec.model_id, [str(repo)])


def _snapshots(repo: Path) -> list[Path]:
    """The snapshot refs/main points at first, then the others, newest first."""
    snapshots_dir = repo / "snapshots"
    if not snapshots_dir.is_dir():
        return []
    found = sorted(snapshots_dir.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)
    ref = repo / "refs" / "main"
    if ref.is_file():
        main = snapshots_dir / ref.read_text().strip()
        found = [main] + [p for p in found if p != main]
    return found


def parameter_count(directory: Path) -> int:
    """How many parameters the weights in ``directory`` hold, read from the safetensors
    headers without loading a tensor; pickled ``.bin`` weights count one per 2 bytes (exact
    for 16-bit weights, twice too many for 32-bit ones: a bound, never an underestimate)."""
    safetensors = sorted(directory.glob("*.safetensors"))
    if safetensors:
        return sum(_safetensors_parameters(path) for path in safetensors)
    return sum(path.stat().st_size for path in directory.glob("*.bin")) // 2


def _safetensors_parameters(path: Path) -> int:
    with path.open("rb") as handle:
        (length,) = struct.unpack("<Q", handle.read(8))
        if length > MAX_SAFETENSORS_HEADER:
            raise ValueError(f"{path.name}: not a safetensors file")
        header = json.loads(handle.read(length))
    return sum(
        math.prod(tensor["shape"]) for name, tensor in header.items() if name != "__metadata__"
    )
