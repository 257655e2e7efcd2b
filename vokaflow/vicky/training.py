"""Fine-tune a registry model on a JSONL dataset with a plain causal-LM objective."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psutil
import torch

from vokaflow.vicky.generation import encode
from vokaflow.vicky.loader import LoadedModel, load_model, resolve_device
from vokaflow.vicky.registry import ModelSpec
from vokaflow.vicky.weights import parameter_count, weights_dir

Progress = Callable[[int, int, float], None]

# Training holds float32 weights, their gradients and AdamW's two moments: 16 bytes a
# parameter; the margin covers activations, the tokenizer and the allocator's slack.
TRAINING_BYTES_PER_PARAMETER = 16
TRAINING_MEMORY_MARGIN = 1.25
GIB = 1024**3


@dataclass(frozen=True)
class TrainingResult:
    steps: int
    losses: list[float]
    out_dir: Path
    first_loss: float
    last_loss: float


def fine_tune(
    spec: ModelSpec,
    dataset: Path | str,
    out_dir: Path | str,
    *,
    steps: int | None = None,
    epochs: int | None = None,
    learning_rate: float = 5e-4,
    batch_size: int = 4,
    progress: Progress | None = None,
    seed: int = 0,
) -> TrainingResult:
    """Train `spec`'s model on the dataset for `steps` optimizer steps, or `epochs` passes
    (one pass when neither is given), and save model and tokenizer to `out_dir`.

    `dataset` is a JSONL file's path, or (a str with a newline or starting with "{") its
    text. Each line is {"messages": [...]} (rendered with the chat template) or {"text": ...}.
    The loss covers every token of an example, prompt turns included.
    """
    if steps is not None and epochs is not None:
        raise ValueError("give steps or epochs, not both")
    torch.manual_seed(seed)
    loaded = load_model(replace(spec, dtype="float32"))
    is_text = isinstance(dataset, str) and ("\n" in dataset or dataset.lstrip().startswith("{"))
    text = str(dataset) if is_text else Path(dataset).read_text()
    examples = read_dataset_text(loaded, text)
    per_epoch = math.ceil(len(examples) / batch_size)
    total = steps if steps is not None else per_epoch * (epochs or 1)
    if total < 1:
        raise ValueError("steps and epochs must be >= 1")
    model = loaded.model
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)
    model.train()
    losses: list[float] = []
    batches = _batches(examples, batch_size, random.Random(seed))
    for step in range(1, total + 1):
        input_ids, mask, labels = _collate(next(batches), loaded)
        loss = model(input_ids=input_ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(loss.item()))
        if progress is not None:
            progress(step, total, losses[-1])
    model.eval()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    loaded.tokenizer.save_pretrained(out)
    (out / "vicky_training.json").write_text(
        json.dumps({"base_model": spec.model_id, "base_version": spec.version, "losses": losses})
    )
    return TrainingResult(total, losses, out, losses[0], losses[-1])


def training_bytes(spec: ModelSpec) -> int:
    """About how much memory training ``spec``'s model takes, from its weights' headers."""
    parameters = parameter_count(weights_dir(spec))
    return int(parameters * TRAINING_BYTES_PER_PARAMETER * TRAINING_MEMORY_MARGIN)


def available_bytes(device: torch.device) -> int:
    """Memory free for training now: the GPU's, or the node's RAM."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    return int(psutil.virtual_memory().available)


def check_fits_in_memory(spec: ModelSpec, name: str) -> None:
    """Refuse, before anything is loaded, to train a model this node cannot hold: a
    training that runs out of memory takes the worker (and whatever else runs on the node)
    down with it."""
    device = resolve_device(spec.device)
    needed, free = training_bytes(spec), available_bytes(device)
    if needed > free:
        raise ValueError(
            f"model {name!r} is too large to train here: it needs about "
            f"{needed / GIB:.1f} GiB of {device.type} memory, and {free / GIB:.1f} GiB is free"
        )


def trained_spec(
    base: ModelSpec, model_id: str, out_dir: Path | str, version: str = ""
) -> ModelSpec:
    """The registry entry for a model fine-tuned from `base` into `out_dir`."""
    return replace(
        base, model_id=model_id, source=str(Path(out_dir).resolve()), version=version or model_id
    )


def read_dataset(loaded: LoadedModel, path: Path) -> list[list[int]]:
    return read_dataset_text(loaded, path.read_text())


def read_dataset_text(loaded: LoadedModel, text: str) -> list[list[int]]:
    """Token ids per example, cut to the context window."""
    tokenizer, window = loaded.tokenizer, loaded.spec.context_window
    examples = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        record = json.loads(line)
        if "messages" in record:
            text = tokenizer.apply_chat_template(
                record["messages"], tokenize=False, chat_template=loaded.spec.chat_template
            )
            ids = encode(loaded, text)
        elif "text" in record:
            eos = tokenizer.eos_token_id
            ids = [
                *encode(loaded, record["text"]),
                min(loaded.stop_token_ids) if eos is None else eos,
            ]
        else:
            raise ValueError(f"dataset line {number}: a line needs 'messages' or 'text'")
        examples.append(ids[:window])
    if not examples:
        raise ValueError("the dataset has no examples")
    return examples


def _batches(examples: list[list[int]], size: int, rng: random.Random) -> Iterator[list[list[int]]]:
    while True:
        order = list(range(len(examples)))
        rng.shuffle(order)
        for start in range(0, len(order), size):
            yield [examples[i] for i in order[start : start + size]]


def _collate(batch: list[list[int]], loaded: LoadedModel) -> tuple[Any, Any, Any]:
    width = max(len(ids) for ids in batch)
    pad = loaded.pad_token_id
    ids = torch.tensor([x + [pad] * (width - len(x)) for x in batch], device=loaded.device)
    mask = torch.tensor(
        [[1] * len(x) + [0] * (width - len(x)) for x in batch], device=loaded.device
    )
    labels = ids.masked_fill(mask == 0, -100)
    return ids, mask, labels
