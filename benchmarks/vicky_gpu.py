"""Vicky on a GPU: builds a random Qwen2 model of about 0.5B parameters (no hub: the tiny
model's tokenizer, random weights), serves it with the production deployment class on Ray
Serve in bf16, and measures concurrent requests batched against a batch size of 1.

    bash benchmarks/vicky_gpu.sh                      # on a machine with a CUDA GPU
    python -m benchmarks.vicky_gpu --device cpu --small   # a quick check of the script on a CPU
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import time
from pathlib import Path
from typing import Any

from benchmarks.common import percentile, print_table, write_result
from vokaflow.vicky.registry import ModelSpec

SHAPES = {  # hidden, layers, heads, kv heads, intermediate
    "0.5b": (1280, 24, 20, 4, 5120),
    "small": (128, 2, 4, 2, 256),
}


def build_model(out: Path, shape: str) -> int:
    """Write a random model of ``shape`` with the tiny model's tokenizer; its parameter count."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from models.build_tiny import build_tokenizer

    hidden, layers, heads, kv_heads, intermediate = SHAPES[shape]
    tokenizer = build_tokenizer()
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(out)
    model.save_pretrained(out)
    return sum(p.numel() for p in model.parameters())


async def _load(handle: Any, n: int, tokens: int) -> dict[str, Any]:
    async def one(i: int) -> tuple[float, int]:
        request = {
            "messages": [{"role": "user", "content": f"Tell me story number {i}"}],
            "max_tokens": tokens,
            "temperature": 0.7,
            "top_p": 0.95,
        }
        started = time.perf_counter()
        answer = await handle.complete.remote(request)
        return time.perf_counter() - started, int(answer["completion_tokens"])

    await asyncio.gather(*(one(i) for i in range(n)))  # warm-up
    started = time.perf_counter()
    results = await asyncio.gather(*(one(i) for i in range(n)))
    wall = time.perf_counter() - started
    latencies = [r[0] for r in results]
    return {
        "tokens_per_s": sum(r[1] for r in results) / wall,
        "p50_ms": 1000 * percentile(latencies, 0.5),
        "p99_ms": 1000 * percentile(latencies, 0.99),
    }


def serve_and_measure(spec: ModelSpec, n: int, tokens: int, gpus_each: float) -> dict[str, Any]:
    import ray
    from ray import serve

    from vokaflow.vicky.deployment import DEPLOYMENT_NAME, model_app

    ray.init(log_to_driver=False)
    figures = {}
    for label, batch in (("batched", n), ("unbatched", 1)):
        variant = dataclasses.replace(
            spec, model_id=f"{spec.model_id}_{label}", max_batch_size=batch
        )
        options = {"ray_actor_options": {"num_cpus": 1, "num_gpus": gpus_each}}
        serve.run(model_app(variant, options), name=variant.model_id, route_prefix=None)
        handle = serve.get_deployment_handle(DEPLOYMENT_NAME, app_name=variant.model_id)
        figures[label] = asyncio.run(_load(handle, n, tokens))
        serve.delete(variant.model_id)
    serve.shutdown()
    ray.shutdown()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--small", action="store_true", help="a tiny shape, to check the script")
    parser.add_argument("--out", type=Path, default=Path("/tmp/vokaflow-gpu-model"))
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=64)
    args = parser.parse_args()
    shape = "small" if args.small else "0.5b"
    parameters = build_model(args.out, shape)
    spec = ModelSpec(
        model_id="random_qwen2",
        source=str(args.out.resolve()),
        dtype="bfloat16" if args.device == "cuda" else "float32",
        device=args.device,
        num_gpus=1 if args.device == "cuda" else 0,
        max_batch_size=args.concurrency,
        max_new_tokens=args.tokens,
        context_window=2048,
        version=f"random-{shape}",
    )
    gpus_each = 0.5 if args.device == "cuda" else 0
    figures = serve_and_measure(spec, args.concurrency, args.tokens, gpus_each)
    ratio = figures["batched"]["tokens_per_s"] / figures["unbatched"]["tokens_per_s"]
    print_table(
        f"{parameters / 1e6:,.0f}M-parameter Qwen2 on {args.device} ({spec.dtype}): "
        f"{args.concurrency} concurrent requests x {args.tokens} new tokens",
        ["deployment", "tokens/s", "p50 ms", "p99 ms"],
        [
            [label, round(f["tokens_per_s"], 1), f["p50_ms"], f["p99_ms"]]
            for label, f in figures.items()
        ],
    )
    print(f"\nbatched / unbatched tokens/s: {ratio:.2f}x")
    write_result(
        "vicky_gpu" if args.device == "cuda" else "vicky_gpu_cpu_check",
        {"device": args.device, "parameters": parameters, "ratio": ratio, **figures},
    )


if __name__ == "__main__":
    main()
