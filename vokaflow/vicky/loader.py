"""Load a ModelSpec's tokenizer and weights from a directory or the local hub cache only."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch

from vokaflow.vicky.registry import ModelSpec
from vokaflow.vicky.weights import WeightsMissing, weights_dir

__all__ = ["LoadedModel", "WeightsMissing", "load_model", "weights_dir"]

STOP_TOKENS = ("<|im_end|>", "<|endoftext|>")


@dataclass
class LoadedModel:
    tokenizer: Any
    model: Any
    device: torch.device
    dtype: torch.dtype
    spec: ModelSpec
    stop_token_ids: frozenset[int]
    pad_token_id: int


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    if dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[dtype]


def load_model(spec: ModelSpec) -> LoadedModel:
    """Tokenizer and weights for `spec`, the model in eval mode on the spec's device."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # bars per load/save only clutter Serve's logs

    directory = weights_dir(spec)
    device = resolve_device(spec.device)
    dtype = resolve_dtype(spec.dtype, device)
    tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
    if spec.chat_template is not None:
        tokenizer.chat_template = spec.chat_template
    model: Any = AutoModelForCausalLM.from_pretrained(
        directory, local_files_only=True, **_dtype_kwarg(dtype)
    )
    model.to(device).eval()
    stop_ids = _stop_token_ids(tokenizer, model)
    pad_id = tokenizer.pad_token_id
    if pad_id is None:
        pad_id = min(stop_ids)
    return LoadedModel(tokenizer, model, device, dtype, spec, stop_ids, int(pad_id))


def _dtype_kwarg(dtype: torch.dtype) -> dict[str, torch.dtype]:
    import transformers

    major, minor = (int(x) for x in transformers.__version__.split(".")[:2])
    # `torch_dtype` was renamed `dtype` in 4.56.
    return {"dtype": dtype} if (major, minor) >= (4, 56) else {"torch_dtype": dtype}


def _stop_token_ids(tokenizer: Any, model: Any) -> frozenset[int]:
    ids: set[int] = set()
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    config_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if isinstance(config_eos, int):
        ids.add(config_eos)
    elif config_eos:
        ids.update(int(i) for i in config_eos)
    vocab = tokenizer.get_vocab()
    ids.update(vocab[t] for t in STOP_TOKENS if t in vocab)
    if not ids:
        raise ValueError("the tokenizer has no end-of-sequence token")
    return frozenset(ids)
