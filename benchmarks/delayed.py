"""Delayed tasks at volume: submit N tasks (batch submits) whose run_at is spread evenly over
SPREAD seconds starting LEAD seconds from now, let them run, and report from Redis each
task's lateness: release (released_at, the pass that moved it to its queue, minus its due
time) and dispatch (dispatched_at minus due), p50 / p99 / max; and that none was released
early, none lost, none run twice.

To tell why a release pass is late, it also counts the late passes (the tasks one pass
released share its released_at); the releaser's own "slow release pass" log lines, which say
whether a pass woke late (a busy CPU) or waited on Redis; and, from Redis's slow log, the
commands that took SLOW_COMMAND_MS or more during the round.

    python -m benchmarks.delayed [--tasks 100000] [--spread 60] [--lead 60] [--rounds 1]
                                 [--baseline-niceness 0]

There is no older code to alternate with: the code before delayed tasks had none. Several
rounds each on a fresh stack, and the medians of their figures, are reported; with
--baseline-niceness, each round also runs the releaser at that niceness (0 is the OS's
default), alternating which goes first.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import re
import statistics
import time
from datetime import datetime, timezone
from typing import Any

import httpx

from benchmarks.common import bench_stack, percentile, print_table, write_result
from vokaflow.domain.task import TaskField, TaskSpec
from vokaflow.runtime import own_head
from vokaflow.store.keys import Keys
from vokaflow.store.redis_client import LUA_DIR, connect_sync, lua_source
from vokaflow.testing.stack import LocalStack
from vokaflow.testing.tally import wait_all_terminal

PER_BATCH = 2000
CONCURRENT_SUBMITS = 4
READ_PAGE = 10_000
LATE_MS = 100
SLOW_COMMAND_MS = 20


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, tz=timezone.utc).isoformat()


async def submit_all(stack: LocalStack, due_times: list[float]) -> list[str]:
    """Earliest first, a few batches at a time; the ids in due order."""
    headers = {"X-API-Key": stack.admin_key}
    chunks = [due_times[i : i + PER_BATCH] for i in range(0, len(due_times), PER_BATCH)]
    ids: list[list[str]] = [[] for _ in chunks]
    gate = asyncio.Semaphore(CONCURRENT_SUBMITS)
    async with httpx.AsyncClient(base_url=stack.base_url, headers=headers, timeout=300) as client:

        async def one(index: int, chunk: list[float]) -> None:
            tasks = [
                {"name": "due", "function_name": "noop", "retry_count": 0, "run_at": _iso(due)}
                for due in chunk
            ]
            async with gate:
                reply = await client.post("/api/high-scale-tasks/batch", json={"tasks": tasks})
            reply.raise_for_status()
            assert reply.json()["total_errors"] == 0, reply.json()["errors"][:3]
            ids[index] = [t["task_id"] for t in reply.json()["successful_tasks"]]

        await asyncio.gather(*(one(i, chunk) for i, chunk in enumerate(chunks)))
    return [task_id for chunk_ids in ids for task_id in chunk_ids]


def read_times(stack: LocalStack, ids: list[str]) -> list[list[str | None]]:
    client = connect_sync(stack.redis_url, decode_responses=True)
    keys = Keys(stack.key_prefix, 16)
    fields = [
        TaskField.SPEC,
        TaskField.STATUS,
        TaskField.ATTEMPTS,
        TaskField.RELEASED_AT,
        TaskField.DISPATCHED_AT,
    ]
    rows: list[list[str | None]] = []
    for start in range(0, len(ids), READ_PAGE):
        pipe = client.pipeline(transaction=False)
        for task_id in ids[start : start + READ_PAGE]:
            pipe.hmget(keys.task(task_id), fields)
        rows += pipe.execute()
    return rows


def watch_slow_commands(client: Any) -> None:
    client.config_set("slowlog-log-slower-than", SLOW_COMMAND_MS * 1000)
    client.config_set("slowlog-max-len", 10_000)
    client.slowlog_reset()


def slow_commands(client: Any) -> list[tuple[float, float, str]]:
    """(start ms, duration ms, command) of each command logged since watch_slow_commands."""
    entries = client.slowlog_get(10_000)
    return [
        (e["start_time"] * 1000, e["duration"] / 1000, _command_name(e["command"])) for e in entries
    ]


def _command_name(command: bytes | str) -> str:
    """The command with its script's name for an EVALSHA, and its first arguments (a
    claim's count is its sixth word)."""
    text = command.decode(errors="replace") if isinstance(command, bytes) else command
    words = text.split()
    if len(words) > 1 and words[0].upper() == "EVALSHA":
        words[1] = SCRIPT_NAMES.get(words[1], words[1][:10])
    return " ".join(word[-40:] for word in words[:8])


SCRIPT_NAMES = {
    hashlib.sha1(lua_source(path.stem).encode()).hexdigest(): path.stem
    for path in LUA_DIR.glob("*.lua")
}


def late_passes(rows: list[list[str | None]]) -> dict[int, int]:
    """released_at ms -> the lateness of that pass's earliest task, for passes over LATE_MS."""
    latest: dict[int, int] = {}
    for spec, _, _, released_at, _ in rows:
        if spec is None or released_at is None:
            continue
        lateness = int(released_at) - TaskSpec.decode(spec).due_ms
        latest[int(released_at)] = max(latest.get(int(released_at), 0), lateness)
    return {at: late for at, late in latest.items() if late > LATE_MS}


SLOW_PASS = re.compile(r"slow release pass: woke (\d+) ms after its time, its pass took (\d+) ms")


def slow_passes(stack: LocalStack) -> list[tuple[int, int]]:
    """(woke late ms, pass took ms) of each pass the releaser logged as slow."""
    logs = own_head.temp_dir(stack.home) / "session_latest" / "logs"
    found = []
    for path in logs.glob("worker-*"):
        for match in SLOW_PASS.finditer(path.read_text(errors="replace")):
            found.append((int(match[1]), int(match[2])))
    return found


def one_round(n: int, spread_s: float, lead_s: float, **settings: str) -> dict[str, Any]:
    stack = bench_stack(None, **settings).start()
    redis_client = connect_sync(stack.redis_url)
    try:
        watch_slow_commands(redis_client)
        first_due = time.time() + lead_s
        due_times = [first_due + spread_s * i / n for i in range(n)]
        began = time.time()
        ids = asyncio.run(submit_all(stack, due_times))
        submitted_s = time.time() - began
        print(
            f"submitted {len(ids):,} in {submitted_s:.1f} s "
            f"({'before' if time.time() < first_due else 'AFTER'} the first was due)",
            flush=True,
        )
        time.sleep(max(0.0, first_due + spread_s - time.time()))
        tally = wait_all_terminal(stack, ids, timeout_s=120)
        rows = read_times(stack, ids)
        slow = slow_commands(redis_client)
        releaser_slow = slow_passes(stack)
    finally:
        stack.stop()
    passes = late_passes(rows)
    slowest = max(slow, key=lambda entry: entry[1], default=(0.0, 0.0, ""))
    for _, took, command in sorted(slow, key=lambda entry: -entry[1])[:5]:
        print(f"slow Redis command: {took:.0f} ms {command}", flush=True)
    release_ms, dispatch_ms, early, twice = [], [], 0, 0
    for spec, _, attempts, released_at, dispatched_at in rows:
        if spec is None or released_at is None:
            continue
        due_ms = TaskSpec.decode(spec).due_ms
        early += int(released_at) < due_ms
        twice += int(attempts or 0) > 1
        release_ms.append(int(released_at) - due_ms)
        if dispatched_at:
            dispatch_ms.append(float(dispatched_at) * 1000 - due_ms)
    return {
        "tasks": n,
        "spread_s": spread_s,
        "submit_s": submitted_s,
        "completed": tally.by_status.get("completed", 0),
        "lost": len(tally.missing) + len(tally.unfinished),
        "never_released": n - len(release_ms),
        "released_early": early,
        "ran_twice": twice,
        "release_p50_ms": percentile(release_ms, 0.5),
        "release_p99_ms": percentile(release_ms, 0.99),
        "release_max_ms": max(release_ms, default=float("nan")),
        "dispatch_p50_ms": percentile(dispatch_ms, 0.5),
        "dispatch_p99_ms": percentile(dispatch_ms, 0.99),
        "dispatch_max_ms": max(dispatch_ms, default=float("nan")),
        "late_passes": len(passes),
        "woke_late_passes": sum(late > LATE_MS for late, _ in releaser_slow),
        "woke_late_max_ms": max((late for late, _ in releaser_slow), default=0),
        "redis_slow_passes": sum(took > LATE_MS for _, took in releaser_slow),
        "redis_slow_max_ms": max((took for _, took in releaser_slow), default=0),
        "slow_redis_commands": len(slow),
        "slowest_redis_ms": slowest[1],
    }


COLUMNS = [
    "completed", "lost", "released_early", "ran_twice",
    "release_p50_ms", "release_p99_ms", "release_max_ms",
    "dispatch_p50_ms", "dispatch_p99_ms", "dispatch_max_ms",
    "late_passes", "woke_late_passes", "woke_late_max_ms", "redis_slow_passes",
    "redis_slow_max_ms", "slow_redis_commands", "slowest_redis_ms",
]  # fmt: skip


def arms(baseline_niceness: int | None) -> dict[str, dict[str, str]]:
    """The settings each round runs under: the defaults, and with --baseline-niceness the
    releaser at that niceness too."""
    if baseline_niceness is None:
        return {"default": {}}
    return {
        f"niceness {baseline_niceness}": {"VOKAFLOW_RELEASE_NICENESS": str(baseline_niceness)},
        "default": {},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--spread", type=float, default=60.0, help="seconds the due times span")
    parser.add_argument("--lead", type=float, default=60.0, help="seconds to the first due time")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--baseline-niceness",
        type=int,
        help="also run each round with the releaser at this niceness, alternating which first",
    )
    args = parser.parse_args()
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in arms(args.baseline_niceness)}
    for number in range(1, args.rounds + 1):
        order = list(arms(args.baseline_niceness).items())
        for name, settings in order if number % 2 else reversed(order):
            runs[name].append(one_round(args.tasks, args.spread, args.lead, **settings))
            print_table(f"round {number}, {name}", COLUMNS, [[runs[name][-1][c] for c in COLUMNS]])
    medians = {
        name: {c: statistics.median(r[c] for r in arm_runs) for c in COLUMNS}
        for name, arm_runs in runs.items()
    }
    for name, arm_medians in medians.items():
        title = f"{name}: medians of {len(runs[name])} round(s)"
        print_table(title, COLUMNS, [[arm_medians[c] for c in COLUMNS]])
    write_result("delayed", {"args": vars(args), "runs": runs, "medians": medians})


if __name__ == "__main__":
    main()
