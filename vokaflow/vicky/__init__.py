"""Vicky's model layer: the model registry, loading weights, batched generation, fine-tuning.

`registry` needs no torch; `loader`, `generation` and `training` need the `vicky` extra.
"""

import os

# Weights come from local directories or the local hub cache only: a Serve replica must never
# try (and hang on) a download. Set before anything here imports huggingface_hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from vokaflow.vicky.registry import ModelRegistry, ModelSpec, UnknownModel

__all__ = ["ModelRegistry", "ModelSpec", "UnknownModel"]
