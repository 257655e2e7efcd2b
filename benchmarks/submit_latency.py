"""Single-task submit over HTTP at 1, 16 and 64 connections: req/s, p50 and p99, beside a
no-op Serve endpoint behind the same proxy, measured in this run.

    python -m benchmarks.submit_latency [--seconds 8] [--proxy default|haproxy|both]
                                        [--client auto|wrk|httpx]

With --proxy both it runs the whole comparison twice: Serve's default proxy
(VOKAFLOW_HA_PROXY=false), then HAProxy in front of the replicas (the default). The load
comes from wrk when it is installed (see benchmarks/http_load.py for why).
"""

from __future__ import annotations

import argparse
from typing import Any

from benchmarks.common import bench_stack, print_table, write_result
from benchmarks.http_load import CLIENTS, pick_client, run_load
from vokaflow.testing.stack import LocalStack

CONCURRENCY = (1, 16, 64)
SUBMIT_BODY = {"name": "latency", "function_name": "noop"}


def deploy_noop_endpoint(stack: LocalStack) -> None:
    """A Serve app that does nothing, on the same cluster and proxy, at /noop."""
    import ray
    from fastapi import FastAPI
    from ray import serve

    stack.init_ray()
    app = FastAPI()

    @serve.deployment(ray_actor_options={"num_cpus": 0}, max_ongoing_requests=1000)
    @serve.ingress(app)
    class Noop:
        @app.post("/")
        async def noop(self) -> dict[str, str]:
            return {}

    serve.run(Noop.bind(), name="noop", route_prefix="/noop")
    ray.shutdown()


def measure(proxy: str, client: str, seconds: float) -> list[dict[str, Any]]:
    rows = []
    with bench_stack(VOKAFLOW_HA_PROXY="true" if proxy == "haproxy" else "false") as stack:
        deploy_noop_endpoint(stack)
        headers = {"X-API-Key": stack.admin_key}
        submit_url = f"{stack.base_url}/api/high-scale-tasks/submit"
        noop_url = f"{stack.base_url}/noop/"
        run_load(client, submit_url, headers, SUBMIT_BODY, 4, 2)  # warm up
        run_load(client, noop_url, headers, {}, 4, 2)
        for connections in CONCURRENCY:
            submit = run_load(client, submit_url, headers, SUBMIT_BODY, connections, seconds)
            noop = run_load(client, noop_url, headers, {}, connections, seconds)
            rows.append(
                {
                    "proxy": proxy,
                    "client": client,
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
    parser.add_argument("--client", choices=["auto", *CLIENTS], default="auto")
    args = parser.parse_args()
    client = pick_client(args.client)
    proxies = ["default", "haproxy"] if args.proxy == "both" else [args.proxy]
    results = [row for proxy in proxies for row in measure(proxy, client, args.seconds)]
    print_table(
        f"Single-task submit vs a no-op Serve endpoint (same proxy, load from {client})",
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
