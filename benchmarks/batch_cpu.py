"""Busy CPU per task, by process, under batch load: the current code against an earlier
commit, alternated ABBA, each on a fresh stack per round. It shows which process spends
more per task when batch throughput differs.

    python -m benchmarks.batch_cpu --baseline COMMIT [--rounds 2] [--tasks 20000]
    python -m benchmarks.batch_cpu --tracing [--rounds 2]     # off against on at 100%
    python -m benchmarks.batch_cpu --baseline A --current B   # two commits, neither this tree
    python -m benchmarks.batch_cpu --baseline A --scripts     # and Redis's time by Lua script
    python -m benchmarks.batch_cpu --baseline A --singles     # under single submits instead

The stack's processes are those whose environment holds its key prefix (the CLI, Ray's
head processes and workers, the gateway, HAProxy); Redis is the server of the URL, found
by name, and may count other users' work too. Each process's utime + stime is read from
/proc before and after the measured batch run (the warm-up is off the clock).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import redis

from benchmarks.common import print_table, write_result
from benchmarks.compare_code import export_commit, run_order, started_stack
from benchmarks.single_submits import measure_single_submits
from benchmarks.throughput import _submit_batches, _wait_completed, warm_up

ROOT = Path(__file__).resolve().parent.parent
# SLOWLOG entries kept with --scripts: more than a run's script calls and other commands
SLOWLOG_LENGTH = 1_000_000
TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError:
        return b""


def _kind(pid: int) -> str:
    """The process's role, from its title (Ray workers name the task or actor they run)."""
    cmdline = _read(f"/proc/{pid}/cmdline").replace(b"\0", b" ").decode(errors="replace")
    for marker, name in (
        ("ray::Scheduler", "scheduler actor"),
        ("ServeReplica", "gateway replica"),
        ("ray::ProxyActor", "serve proxy"),
        ("ray::ServeController", "serve controller"),
        ("execute_chunk", "pool workers"),
        ("ray::IDLE", "pool workers"),
        ("raylet", "raylet"),
        ("gcs_server", "gcs"),
        ("haproxy", "haproxy"),
        ("redis-server", "redis"),
        ("vokaflow.runtime.host", "scheduler host job"),
        ("vokaflow.scheduler.host", "scheduler host job"),
        ("dashboard", "dashboard"),
        ("ray::", "other ray actors"),
    ):
        if marker in cmdline:
            return name
    return "other"


def _busy_s(pid: int) -> float:
    stat = _read(f"/proc/{pid}/stat").decode(errors="replace")
    fields = stat[stat.rfind(")") + 2 :].split()
    if len(fields) < 13:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_S


def stack_pids(key_prefix: str, redis_url: str) -> list[int]:
    """The stack's processes, and its Redis: the server of ``redis_url``, by its title (an
    embedded one is started without the stack's environment, its title led by its path)."""
    marker = f"VOKAFLOW_KEY_PREFIX={key_prefix}".encode()
    redis_address = f"127.0.0.1:{urlsplit(redis_url).port or 6379}".encode()
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        title = _read(f"/proc/{pid}/cmdline").replace(b"\0", b" ").split()
        is_redis = (
            len(title) > 1 and title[0].endswith(b"redis-server") and title[1] == redis_address
        )
        if is_redis or marker in _read(f"/proc/{pid}/environ"):
            pids.append(pid)
    return pids


def cpu_by_kind(pids: list[int]) -> dict[int, tuple[str, float]]:
    return {pid: (_kind(pid), _busy_s(pid)) for pid in pids}


def script_names(code: Path) -> dict[str, str]:
    """Each Lua script's name by the SHA-1 that ``code``'s store runs it by."""
    program = (
        "import hashlib\n"
        "from vokaflow.store.redis_client import LUA_DIR, lua_source\n"
        "for path in sorted(LUA_DIR.glob('*.lua')):\n"
        "    source = lua_source(path.stem)\n"
        "    print(hashlib.sha1(source.encode()).hexdigest(), path.stem)\n"
    )
    listing = subprocess.run(
        [sys.executable, "-c", program],
        cwd=code,
        env={**os.environ, "PYTHONPATH": str(code)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(line.split() for line in listing.splitlines())


def _script_us(meter: redis.Redis, names: dict[str, str], tasks: int) -> dict[str, float]:
    """Redis's time in each script over the window, µs per task, from a SLOWLOG that logged
    every command (a script's time includes the commands it calls)."""
    totals: dict[str, float] = defaultdict(float)
    for entry in meter.slowlog_get(SLOWLOG_LENGTH):
        command = entry["command"].split()
        if command and command[0].upper() in (b"EVALSHA", "EVALSHA") and len(command) > 1:
            sha = command[1].decode() if isinstance(command[1], bytes) else command[1]
            totals[names.get(sha, "unknown script")] += entry["duration"]
    return {name: us / tasks for name, us in totals.items()}


def measure(
    code: Path,
    tasks: int,
    settings: dict[str, str] | None = None,
    *,
    scripts: bool = False,
    singles: bool = False,
) -> dict[str, Any]:
    """``singles``: the load is wrk's single submits on 16 connections for 8 s, every
    accepted task run to completion, and ``tasks`` is what was accepted."""
    stack = started_stack(code, settings=settings)
    try:
        if singles:
            measure_single_submits(stack, "wrk", 2.0, 4)
        else:
            warm_up(stack, tasks, 1000)
        meter = redis.Redis.from_url(stack.redis_url)
        meter.config_resetstat()
        if scripts:
            meter.config_set("slowlog-max-len", SLOWLOG_LENGTH)
            meter.config_set("slowlog-log-slower-than", 0)
            meter.slowlog_reset()
        before = cpu_by_kind(stack_pids(stack.key_prefix, stack.redis_url))
        started = time.perf_counter()
        if singles:
            load = measure_single_submits(stack, "wrk", 8.0, 16, warm_up=False)
            tasks, seconds = load["single_tasks"], load["single_tasks"] / load["single_tasks_per_s"]
        else:
            batch_ids = asyncio.run(_submit_batches(stack, tasks, 1000, connections=4))
            _wait_completed(stack, batch_ids, tasks, timeout_s=600)
            seconds = time.perf_counter() - started
        after = cpu_by_kind(stack_pids(stack.key_prefix, stack.redis_url))
        commands = meter.info("commandstats")
        script_us = _script_us(meter, script_names(code), tasks) if scripts else {}
    finally:
        stack.stop()
    started_in_window = sorted({kind for pid, (kind, _) in after.items() if pid not in before})
    per_kind: dict[str, float] = defaultdict(float)
    for pid, (kind, busy) in after.items():
        per_kind[kind] += busy - before.get(pid, (kind, 0.0))[1]
    per_task_ms = {kind: 1000 * busy / tasks for kind, busy in per_kind.items()}
    redis_us = {
        name.removeprefix("cmdstat_"): stats["usec"] / tasks for name, stats in commands.items()
    }
    return {
        "tasks_per_s": tasks / seconds,
        "cpu_ms_per_task": per_task_ms,
        "redis_us": redis_us,
        "processes_started_in_window": started_in_window,
        "script_us": script_us,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--baseline", help="a commit, branch or tag")
    parser.add_argument(
        "--tracing",
        action="store_true",
        help="instead of a baseline: this code with tracing off against on at 100%%",
    )
    parser.add_argument(
        "--current", help="with --baseline: a commit to measure instead of this tree"
    )
    parser.add_argument("--rounds", type=int, default=2, help="an even number")
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument(
        "--singles", action="store_true", help="single submits through wrk instead of batches"
    )
    parser.add_argument(
        "--scripts",
        action="store_true",
        help="Redis's time per task by Lua script (SLOWLOG logs every command, a cost of its own)",
    )
    args = parser.parse_args()
    if not (args.baseline or args.tracing):
        parser.error("--baseline or --tracing is needed")
    variants = _variants(args.baseline, args.tracing, args.current)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
    for round_number in range(args.rounds):
        for name in run_order(round_number, list(variants)):
            code, settings = variants[name]
            runs[name].append(
                measure(code, args.tasks, settings, scripts=args.scripts, singles=args.singles)
            )
            print(f"round {round_number + 1} {name}: {runs[name][-1]}", flush=True)
    kinds = sorted(
        {kind for results in runs.values() for r in results for kind in r["cpu_ms_per_task"]}
    )
    rows = []
    for kind in ["tasks/s", *kinds, "total"]:
        row: list[Any] = [kind]
        for results in runs.values():
            if kind == "tasks/s":
                row.append(statistics.median(r["tasks_per_s"] for r in results))
            elif kind == "total":
                row.append(statistics.median(sum(r["cpu_ms_per_task"].values()) for r in results))
            else:
                row.append(statistics.median(r["cpu_ms_per_task"].get(kind, 0.0) for r in results))
        rows.append(row)
    print_table(
        f"Busy CPU ms per task by process, medians of {args.rounds} rounds",
        ["process", *variants],
        rows,
    )
    print_table(
        f"Redis µs per task by command (INFO commandstats), medians of {args.rounds} rounds",
        ["command", *variants],
        _median_rows(runs, "redis_us", floor=0.5),
    )
    if args.scripts:
        print_table(
            f"Redis µs per task by Lua script (SLOWLOG), medians of {args.rounds} rounds",
            ["script", *variants],
            _median_rows(runs, "script_us"),
        )
    write_result(
        "batch_cpu",
        {"baseline": args.baseline, "current": args.current, "tracing": args.tracing, "runs": runs},
    )


def _median_rows(
    runs: dict[str, list[dict[str, Any]]], field: str, floor: float = 0.0
) -> list[list[Any]]:
    """Per name of ``field`` (µs per task by command or script), each variant's median over
    its rounds, costliest first; names under ``floor`` in every run left out. A script's
    time includes the commands it calls, which are also counted on their own."""
    names = {
        name
        for results in runs.values()
        for r in results
        for name, us in r[field].items()
        if us >= floor
    }
    rows = [
        [name, *(statistics.median(r[field].get(name, 0.0) for r in rs) for rs in runs.values())]
        for name in names
    ]
    return sorted(rows, key=lambda row: -max(row[1:]))


def _variants(
    baseline: str | None, tracing: bool, current: str | None = None
) -> dict[str, tuple[Path, dict[str, str]]]:
    """What each round runs: a code and its stack's settings. Traced, every task is (the
    gateway starts a sampled trace per batch) and spans go to a sink in this process,
    whose own CPU is not counted."""
    if tracing:
        from benchmarks.tracing import SpanSink

        sink = SpanSink()
        traced = {"VOKAFLOW_OTLP_ENDPOINT": sink.url, "VOKAFLOW_TRACE_SAMPLE_RATIO": "1"}
        return {"off": (ROOT, {}), "traced": (ROOT, traced)}
    assert baseline is not None
    current_code = export_commit(current) if current else ROOT
    return {"baseline": (export_commit(baseline), {}), "current": (current_code, {})}


if __name__ == "__main__":
    main()
