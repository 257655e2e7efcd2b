"""Single-task submit over HTTP at 1, 16 and 64 connections: req/s, p50 and p99, beside a
no-op Serve endpoint behind the same proxy, measured in this run.

    python -m benchmarks.submit_latency [--seconds 8] [--proxy default|haproxy|both]

With --proxy both it runs the whole comparison twice: Serve's default proxy
(VOKAFLOW_HA_PROXY=false), then HAProxy in front of the replicas (the default).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from typing import Any

import httpx

from benchmarks.common import bench_stack, percentile, print_table, write_result
from vokaflow.runtime.stack import LocalStack

CONCURRENCY = (1, 16, 64)
SUBMIT_BODY = {"name": "latency", "function_name": "noop", "category": "realtime"}


def deploy_noop_endpoint(stack: LocalStack) -> None:
    """A Serve app that does nothing, on the same cluster and proxy, at /noop."""
    import ray
    from fastapi import FastAPI
    from ray import serve

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(address=stack.ray_address, log_to_driver=False)
    app = FastAPI()

    @serve.deployment(ray_actor_options={"num_cpus": 0}, max_ongoing_requests=1000)
    @serve.ingress(app)
    class Noop:
        @app.post("/")
        async def noop(self) -> dict[str, str]:
            return {}

    serve.run(Noop.bind(), name="noop", route_prefix="/noop")
    ray.shutdown()


async def _load(
    url: str, headers: dict[str, str], body: dict[str, Any], connections: int, seconds: float
) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(headers=headers, timeout=30, limits=limits) as client:
        stop_at = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                reply = await client.post(url, json=body)
                if reply.status_code == 200:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors += 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - began
    return {
        "requests_per_s": len(latencies) / elapsed,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "errors": errors,
    }


def measure(proxy: str, seconds: float) -> list[dict[str, Any]]:
    rows = []
    with bench_stack(VOKAFLOW_HA_PROXY="true" if proxy == "haproxy" else "false") as stack:
        deploy_noop_endpoint(stack)
        headers = {"X-API-Key": stack.admin_key}
        submit_url = f"{stack.base_url}/api/high-scale-tasks/submit"
        noop_url = f"{stack.base_url}/noop/"
        asyncio.run(_load(submit_url, headers, SUBMIT_BODY, 4, 2))  # warm up
        asyncio.run(_load(noop_url, headers, {}, 4, 2))
        for connections in CONCURRENCY:
            submit = asyncio.run(_load(submit_url, headers, SUBMIT_BODY, connections, seconds))
            noop = asyncio.run(_load(noop_url, headers, {}, connections, seconds))
            rows.append(
                {
                    "proxy": proxy,
                    "connections": connections,
                    "submit": submit,
                    "noop": noop,
                    "ratio": submit["requests_per_s"] / noop["requests_per_s"],
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--proxy", choices=["default", "haproxy", "both"], default="both")
    args = parser.parse_args()
    proxies = ["default", "haproxy"] if args.proxy == "both" else [args.proxy]
    results = [row for proxy in proxies for row in measure(proxy, args.seconds)]
    print_table(
        "Single-task submit vs a no-op Serve endpoint (same proxy, same client)",
        [
            "proxy",
            "conns",
            "submit req/s",
            "p50 ms",
            "p99 ms",
            "no-op req/s",
            "p50 ms",
            "p99 ms",
            "submit/no-op",
        ],
        [
            (
                r["proxy"],
                r["connections"],
                r["submit"]["requests_per_s"],
                r["submit"]["p50_ms"],
                r["submit"]["p99_ms"],
                r["noop"]["requests_per_s"],
                r["noop"]["p50_ms"],
                r["noop"]["p99_ms"],
                r["ratio"],
            )
            for r in results
        ],
    )
    write_result("submit_latency", {"rows": results})


if __name__ == "__main__":
    main()
