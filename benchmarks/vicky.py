"""Vicky's dynamic batching: 16 concurrent chat completions of 32 new tokens each on the tiny
model on CPU, against the same deployment with a batch size of 1, in the same run.

    python -m benchmarks.vicky [--concurrency 16] [--tokens 32] [--rounds 3]

Both models are served by the same code through the same HTTP route (the OpenAI-compatible
one, whose `usage` counts the tokens generated); only max_batch_size differs.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import time
from typing import Any

import httpx

from benchmarks.common import bench_stack, percentile, print_table, write_result
from vokaflow.store.keys import Keys
from vokaflow.store.redis_client import connect_sync
from vokaflow.testing.stack import LocalStack
from vokaflow.vicky.registry import ModelRegistry
from vokaflow.vicky.trained import TrainedEntry

UNBATCHED = "tiny_batch1"


def _deploy_unbatched(stack: LocalStack) -> None:
    """The tiny model again, with max_batch_size 1, registered and deployed like a model
    the admin key fine-tuned."""
    import ray

    from vokaflow.config import NAMESPACE
    from vokaflow.vicky.deployment import deploy_model

    spec = dataclasses.replace(ModelRegistry().get("tiny"), model_id=UNBATCHED, max_batch_size=1)
    client = connect_sync(stack.redis_url, decode_responses=True)
    entry = TrainedEntry(UNBATCHED, "admin", UNBATCHED, "benchmark", spec)
    client.hset(Keys(stack.key_prefix, 16).trained_models, UNBATCHED, entry.to_json())
    client.close()
    stack.init_ray(namespace=NAMESPACE)
    deploy_model(spec)
    ray.shutdown()


async def _round(client: httpx.AsyncClient, model: str, n: int, tokens: int) -> dict[str, Any]:
    async def one(i: int) -> tuple[float, int]:
        body = {
            "model": model,
            "messages": [{"role": "user", "content": f"Tell me story number {i}"}],
            "max_tokens": tokens,
            "temperature": 0.7,
        }
        started = time.perf_counter()
        reply = await client.post("/v1/chat/completions", json=body)
        reply.raise_for_status()
        return time.perf_counter() - started, int(reply.json()["usage"]["completion_tokens"])

    started = time.perf_counter()
    results = await asyncio.gather(*(one(i) for i in range(n)))
    wall = time.perf_counter() - started
    latencies = [r[0] for r in results]
    generated = sum(r[1] for r in results)
    return {"wall_s": wall, "tokens": generated, "latencies": latencies}


async def _measure(
    stack: LocalStack, model: str, n: int, tokens: int, rounds: int
) -> dict[str, Any]:
    headers = {"X-API-Key": stack.admin_key}
    async with httpx.AsyncClient(base_url=stack.base_url, headers=headers, timeout=600) as client:
        await _round(client, model, n, tokens)  # warm-up: first-use costs out of the figures
        measured = [await _round(client, model, n, tokens) for _ in range(rounds)]
    latencies = [x for r in measured for x in r["latencies"]]
    tokens_total = sum(r["tokens"] for r in measured)
    wall = sum(r["wall_s"] for r in measured)
    return {
        "model": model,
        "tokens_per_s": tokens_total / wall,
        "p50_ms": 1000 * percentile(latencies, 0.5),
        "p99_ms": 1000 * percentile(latencies, 0.99),
        "requests": len(latencies),
        "tokens": tokens_total,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with bench_stack(VOKAFLOW_VICKY_MODELS='["tiny"]') as stack:
        _deploy_unbatched(stack)
        batched = asyncio.run(_measure(stack, "tiny", args.concurrency, args.tokens, args.rounds))
        single = asyncio.run(_measure(stack, UNBATCHED, args.concurrency, args.tokens, args.rounds))
    ratio = batched["tokens_per_s"] / single["tokens_per_s"]
    rows = [
        [label, round(r["tokens_per_s"], 1), r["p50_ms"], r["p99_ms"]]
        for label, r in (("batched (max_batch_size 16)", batched), ("unbatched (1)", single))
    ]
    print_table(
        f"{args.concurrency} concurrent requests x {args.tokens} new tokens, tiny model on CPU",
        ["deployment", "tokens/s", "p50 ms", "p99 ms"],
        rows,
    )
    print(f"\nbatched / unbatched tokens/s: {ratio:.2f}x (bar: >= 3x)")
    write_result(
        "vicky",
        {
            "concurrency": args.concurrency,
            "new_tokens": args.tokens,
            "batched": batched,
            "unbatched": single,
            "ratio": ratio,
        },
    )


if __name__ == "__main__":
    main()
