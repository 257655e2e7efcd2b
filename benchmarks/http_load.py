"""Closed-loop HTTP load: N connections, each sending the next request when the last one
answers, for a fixed time. Two generators give the same figures:

- wrk (C, one thread): costs the 2-core machine little, so the server is what is measured;
- httpx (Python): always there, but at 16 and more connections its own CPU caps the rate
  (a no-op endpoint gave 942 req/s through it against 4,019 through wrk, same run).
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import percentile

CLIENTS = ("wrk", "httpx")
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def pick_client(requested: str) -> str:
    """``auto`` means wrk when it is on PATH, else httpx (with a warning)."""
    if requested != "auto":
        if requested == "wrk" and shutil.which("wrk") is None:
            raise SystemExit("wrk is not on PATH: apt-get install wrk (or brew install wrk)")
        return requested
    if shutil.which("wrk"):
        return "wrk"
    print("wrk not found: using httpx, whose own CPU caps the rate at 16+ connections")
    return "httpx"


def run_load(
    client: str,
    url: str,
    headers: dict[str, str],
    body: dict[str, Any],
    connections: int,
    seconds: float,
) -> dict[str, float]:
    """{"requests_per_s", "p50_ms", "p99_ms", "errors"}; only 200s count as requests."""
    if client == "wrk":
        return _wrk(url, headers, body, connections, seconds)
    return asyncio.run(_httpx(url, headers, body, connections, seconds))


async def _httpx(
    url: str, headers: dict[str, str], body: dict[str, Any], connections: int, seconds: float
) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(headers=headers, timeout=30, limits=limits) as session:
        stop_at = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                reply = await session.post(url, json=body)
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


def _wrk_script(headers: dict[str, str], body: dict[str, Any]) -> str:
    lines = ['wrk.method = "POST"', f"wrk.body = {_lua_string(json.dumps(body))}"]
    lines += [
        f"wrk.headers[ {_lua_string(name)} ] = {_lua_string(value)}"
        for name, value in {**headers, "Content-Type": "application/json"}.items()
    ]
    return "\n".join(lines) + "\n"


def _lua_string(text: str) -> str:
    """A Lua long string whose closing bracket does not occur in ``text``."""
    level = 2
    while f"]{'=' * level}]" in text:
        level += 1
    return f"[{'=' * level}[{text}]{'=' * level}]"


def _wrk(
    url: str, headers: dict[str, str], body: dict[str, Any], connections: int, seconds: float
) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "post.lua"
        script.write_text(_wrk_script(headers, body))
        command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s"]
        command += ["--latency", "-s", str(script), url]
        run = subprocess.run(command, capture_output=True, text=True, check=False)
    if run.returncode != 0:
        raise RuntimeError(f"wrk failed ({run.returncode}): {run.stderr.strip()}")
    return parse_wrk(run.stdout)


def parse_wrk(output: str) -> dict[str, float]:
    """The rate of 2xx answers and wrk's latency percentiles, from wrk --latency's report
    (wrk's percentiles include any non-2xx answers; the benchmark expects none)."""
    total = int(_field(r"(\d+) requests in", output))
    non_2xx = int(_field(r"Non-2xx or 3xx responses: (\d+)", output, "0"))
    socket_errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    rate = float(_field(r"Requests/sec:\s+([\d.]+)", output))
    return {
        "requests_per_s": rate * (total - non_2xx) / total if total else 0.0,
        "p50_ms": _latency_ms(_field(r"^\s+50%\s+(\S+)", output)),
        "p99_ms": _latency_ms(_field(r"^\s+99%\s+(\S+)", output)),
        "errors": non_2xx + socket_errors,
    }


def _field(pattern: str, text: str, default: str | None = None) -> str:
    match = re.search(pattern, text, re.MULTILINE)
    if match:
        return match.group(1)
    if default is None:
        raise ValueError(f"wrk's report has no {pattern!r}:\n{text}")
    return default


def _latency_ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()  # type: ignore[union-attr]
    return float(number) * _UNIT_MS[unit]
