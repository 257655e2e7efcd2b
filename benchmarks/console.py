"""The web console's page times on a full Redis: every page (and every task search) timed
as the admin and as a tenant, against 1,000,000 finished and 100,000 queued tasks.

    python -m benchmarks.console [--finished 1000000] [--queued 100000]

A redis-server of its own (on a free port, no persistence) is filled through the
service's own store code, so the task indexes are those the scripts write: tasks submitted
with TaskStore.submit, claimed with DispatchStore.claim and ended with TaskEnding.finish,
as the scheduler ends them: DispatchStore.settle (which lists failures as dead letters)
and its side effects (batch counts, category counts, failure log entries, webhook
events). They are spread over 20 tenants (Zipf: the first has the most, and is the tenant
measured), 10 functions, 5 names and 5 priorities; most complete, some fail, time out or
are cancelled. Batches, workflows, schedules and a webhook are made over the API itself.

The gateway app (vokaflow.api.app.create_long_lived_app, as a gateway replica builds it) runs
under uvicorn in a process of its own: every time is an HTTP round trip over loopback,
without Ray Serve's proxy in front. Each page gets 3 warm-up requests, then 20 timed ones,
one after another; a page whose p95 is 200 ms or more is flagged. Every answer must be a
200. Redis's command counts per request are read from INFO commandstats, SCAN and KEYS
among them: no page may scan the keyspace.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import html
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import redis
from fastapi import FastAPI

from benchmarks.common import UNLIMITED_DRILLS, percentile, print_table, write_result
from benchmarks.workflow import workflow_body
from vokaflow.api.app import create_long_lived_app
from vokaflow.api.services import Services
from vokaflow.config import load_settings
from vokaflow.domain import Priority, TaskStatus, WorkerType
from vokaflow.domain.principal import principal_folder
from vokaflow.domain.task import ClaimedTask, Outcome, TaskSpec
from vokaflow.runtime import launcher
from vokaflow.store.dispatch_store import ClaimRequest
from vokaflow.store.embedded import start_redis_server
from vokaflow.store.task_index import TaskQuery
from vokaflow.testing.stack import free_port

ROOT = Path(__file__).resolve().parent.parent
KEY_PREFIX = "vfconsole-bench"
TENANTS = [f"tenant-{n:02d}" for n in range(20)]
TENANT_WEIGHTS = [1 / (n + 1) for n in range(len(TENANTS))]  # Zipf: a few big tenants
MEASURED_TENANT = TENANTS[0]
OTHER_TENANT = TENANTS[5]  # the admin's principal filter
# (function, category, pool) as the registry has them: the search needs only the names,
# the claims the pools, the category counts the categories
FUNCTIONS = [
    ("noop", "system", WorkerType.GENERAL_PURPOSE),
    ("echo", "system", WorkerType.GENERAL_PURPOSE),
    ("health_check", "system", WorkerType.GENERAL_PURPOSE),
    ("aggregate_metrics", "analytics", WorkerType.CPU_INTENSIVE),
    ("generate_report", "analytics", WorkerType.CPU_INTENSIVE),
    ("embed_text", "ml", WorkerType.CPU_INTENSIVE),
    ("send_email", "notifications", WorkerType.NETWORK_INTENSIVE),
    ("send_webhook", "notifications", WorkerType.NETWORK_INTENSIVE),
    ("file_checksum", "files", WorkerType.IO_INTENSIVE),
    ("export_table", "database", WorkerType.IO_INTENSIVE),
]
NAMES = ["ingest", "nightly-report", "thumbnails", "sync-crm", "cleanup"]
PRIORITIES = {
    Priority.CRITICAL: 2,
    Priority.HIGH: 13,
    Priority.NORMAL: 60,
    Priority.LOW: 15,
    Priority.BATCH: 10,
}
OUTCOMES = {
    TaskStatus.COMPLETED: 90,
    TaskStatus.FAILED: 5,
    TaskStatus.TIMEOUT: 3,
    TaskStatus.CANCELLED: 2,
}
ERRORS = {
    TaskStatus.FAILED: {"type": "ValueError", "message": "bad input row", "traceback": None},
    TaskStatus.TIMEOUT: {"type": "TaskTimeout", "message": "ran past 300 s", "traceback": None},
    TaskStatus.CANCELLED: {"type": "Cancelled", "message": "cancelled", "traceback": None},
}

FILL_CHUNK = 10_000  # submitted, then claimed and ended, before the next
SUBMIT_CHUNK = 1_000  # tasks per TaskStore.submit (one script call per partition)
SETTLE_CHUNK = 1_000  # outcomes per TaskEnding.finish (one finish.lua call per partition)
CLAIM_COUNT = 1_000  # per pool and partition, per claim
BATCHES = 3
WORKFLOW_WIDTHS = (20, 1000)  # one drawn as a graph, one too wide to draw (listed)
WARM_UP = 3
TIMED = 20
SLOW_MS = 200.0

T = TypeVar("T")


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# ------------------------------------------------------------------ the gateway


def gateway_app() -> FastAPI:
    """The app as a gateway replica builds it (its start-up heap frozen too), from this
    environment: uvicorn's factory. The admin key is registered before, as `up` does
    before it starts a gateway."""
    settings = load_settings()
    secret = launcher.jwt_secret(settings, create=True)
    gateway_settings = settings.model_copy(update={"jwt_secret": secret})
    return create_long_lived_app(Services(gateway_settings, str(settings.redis_url)))


def serve(env: dict[str, str], port: int, log_file: Path) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "benchmarks.console:gateway_app",
        "--factory",
        "--host=127.0.0.1",
        f"--port={port}",
        "--log-level=warning",
        "--no-access-log",
    ]
    with log_file.open("wb") as log:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    wait_until_serving(server, f"http://127.0.0.1:{port}/console/sign-in", log_file)
    return server


def wait_until_serving(server: subprocess.Popen[bytes], url: str, log_file: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the gateway exited:\n{log_file.read_text()}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the gateway did not answer in 60 s:\n{log_file.read_text()}")


def bench_env(home: Path, redis_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "VOKAFLOW_HOME": str(home),
        "VOKAFLOW_REDIS_URL": redis_url,
        "VOKAFLOW_KEY_PREFIX": KEY_PREFIX,
        "VOKAFLOW_RATE_LIMITS": UNLIMITED_DRILLS,  # the API-made batches and workflows
        "VOKAFLOW_WEBHOOK_ALLOWED_HOSTS": '["127.0.0.1"]',
    }


# ------------------------------------------------------------------ filling Redis


@dataclass
class Fixtures:
    """What the pages are opened on."""

    batch_id: str = ""
    workflow_ids: tuple[str, ...] = ()
    schedule_id: str = ""
    webhook_id: str = ""
    finished_task_id: str = ""  # one of the measured tenant's failed tasks
    queued_task_id: str = ""  # one of the measured tenant's queued tasks


@dataclass
class TaskMix:
    """Random tasks and outcomes in the proportions above, the same on every run."""

    services: Services
    rng: random.Random

    def task(self) -> TaskSpec:
        rng, keys = self.rng, self.services.keys
        task_id = str(uuid.uuid4())
        function_name, category, pool = rng.choice(FUNCTIONS)
        owner = rng.choices(TENANTS, TENANT_WEIGHTS)[0]
        return TaskSpec(
            task_id=task_id,
            function_name=function_name,
            name=rng.choice(NAMES),
            kwargs={"row": rng.randrange(1_000_000)},
            priority=rng.choices(list(PRIORITIES), list(PRIORITIES.values()))[0],
            worker_type=pool,
            category=category,
            max_retries=3,
            created_at=time.time(),
            partition=keys.partition(task_id),
            owner=owner,
            data_scope=principal_folder(owner),
        )

    def outcome(self, claimed: ClaimedTask) -> Outcome:
        status = self.rng.choices(list(OUTCOMES), list(OUTCOMES.values()))[0]
        ended = time.time()
        started = ended - self.rng.uniform(0.01, 2.0)
        result = {"ok": True} if status is TaskStatus.COMPLETED else None
        return Outcome(
            claimed.task_id,
            claimed.attempt,
            status,
            started,
            ended,
            result,
            ERRORS.get(status),
            claimed.spec.function_name,
        )


async def submit(services: Services, tasks: Sequence[TaskSpec]) -> None:
    for part in chunks(tasks, SUBMIT_CHUNK):
        await services.tasks.submit(part)


async def end_everything_ready(services: Services, mix: TaskMix) -> Counter[TaskStatus]:
    """Claim every ready task and end it, until none is ready: workflow children that
    their parents' ends released are claimed in the next round."""
    requests = [
        ClaimRequest(pool, partition, float("inf"), CLAIM_COUNT)
        for pool in WorkerType
        for partition in range(services.keys.partitions)
    ]
    ended: Counter[TaskStatus] = Counter()
    while claimed := await services.dispatch.claim(requests, time.time()):
        for part in chunks(claimed, SETTLE_CHUNK):
            settled = await services.ending.finish(part, [mix.outcome(c) for c in part], [])
            ended.update(outcome.status for outcome in settled.final)
    return ended


async def fill_finished(services: Services, mix: TaskMix, total: int) -> Counter[TaskStatus]:
    ended: Counter[TaskStatus] = Counter()
    began = time.monotonic()
    for done in range(0, total, FILL_CHUNK):
        await submit(services, [mix.task() for _ in range(min(FILL_CHUNK, total - done))])
        ended += await end_everything_ready(services, mix)
        rate = sum(ended.values()) / (time.monotonic() - began)
        print(f"  finished {sum(ended.values()):>9,} ({rate:,.0f}/s)", flush=True)
    return ended + await end_everything_ready(services, mix)


async def fill_queued(services: Services, mix: TaskMix, total: int) -> None:
    for done in range(0, total, FILL_CHUNK):
        await submit(services, [mix.task() for _ in range(min(FILL_CHUNK, total - done))])
        print(f"  queued {done + min(FILL_CHUNK, total - done):>9,}", flush=True)


async def create_tenants(services: Services) -> dict[str, str]:
    return {name: await services.api_keys.create(name, "user", time.time()) for name in TENANTS}


async def made_over_the_api(api: httpx.AsyncClient, batch_size: int) -> Fixtures:
    """A tenant's batches, workflows, schedules and webhook, made as a client makes them."""

    async def posted(path: str, body: dict[str, Any]) -> dict[str, Any]:
        reply = await api.post(path, json=body)
        if reply.status_code not in (200, 201):
            raise RuntimeError(f"POST {path}: {reply.status_code} {reply.text[:500]}")
        answer: dict[str, Any] = reply.json()
        return answer

    fixtures = Fixtures()
    tasks = [{"name": f"item-{i}", "function_name": "noop"} for i in range(batch_size)]
    batches = [
        await posted("/api/high-scale-tasks/batch", {"tasks": tasks}) for _ in range(BATCHES)
    ]
    fixtures.batch_id = batches[0]["batch_id"]
    workflows = [await posted("/api/workflows", workflow_body(w)) for w in WORKFLOW_WIDTHS]
    fixtures.workflow_ids = tuple(w["workflow_id"] for w in workflows)
    for every_s in (600, 3600, 86400):
        task = {"name": f"every-{every_s}-s", "function_name": "health_check"}
        made = await posted("/api/schedules", {"task": task, "interval_seconds": every_s})
        fixtures.schedule_id = fixtures.schedule_id or made["id"]
    hook = {
        "url": f"http://127.0.0.1:{free_port()}/hook",  # nothing listens: a failed delivery
        "events": ["task.failed", "task.completed"],
        "secret": "benchmark-secret",
    }
    fixtures.webhook_id = (await posted("/api/webhooks/configure", hook))["id"]
    await posted(f"/api/webhooks/{fixtures.webhook_id}/test", {})
    return fixtures


async def a_task_of(services: Services, owner: str, status: TaskStatus) -> str:
    """The newest of ``owner``'s tasks in ``status``, from the console's own search."""
    page = await services.task_index.search(TaskQuery(owner=owner, status=status), limit=1)
    if not page.records:
        raise RuntimeError(f"{owner} has no {status.value} task")
    return TaskSpec.from_record(page.records[0]).task_id


@dataclass
class Filled:
    fixtures: Fixtures
    tenant_keys: dict[str, str]
    ended: Counter[TaskStatus]
    seconds: dict[str, float]


async def fill(redis_url: str, base_url: str, args: argparse.Namespace) -> Filled:
    services = Services(load_settings(), redis_url)
    mix = TaskMix(services, random.Random(20240611))
    lap = Laps()
    try:
        tenant_keys = await create_tenants(services)
        headers = {"X-API-Key": tenant_keys[MEASURED_TENANT]}
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=120) as api:
            batch_size = min(2000, max(100, args.finished // 500))
            fixtures = await made_over_the_api(api, batch_size)
        lap("api")
        print(f"finishing {args.finished:,} tasks", flush=True)
        ended = await fill_finished(services, mix, args.finished)
        lap("finished")
        print(f"queueing {args.queued:,} tasks", flush=True)
        await fill_queued(services, mix, args.queued)
        lap("queued")
        fixtures.finished_task_id = await a_task_of(services, MEASURED_TENANT, TaskStatus.FAILED)
        fixtures.queued_task_id = await a_task_of(services, MEASURED_TENANT, TaskStatus.QUEUED)
        return Filled(fixtures, tenant_keys, ended, lap.seconds)
    finally:
        await services.redis.aclose()


class Laps:
    """Seconds of each phase, one after another."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.last = time.monotonic()

    def __call__(self, phase: str) -> None:
        now = time.monotonic()
        self.seconds[phase], self.last = now - self.last, now


# ------------------------------------------------------------------ measuring

SIGN_IN_TOKEN = re.compile(r'name="sign_in_token" value="([^"]+)"')
NEXT_PAGE = re.compile(r'<a href="([^"]+)">Next page</a>')


def signed_in(base_url: str, credential: str) -> httpx.Client:
    """A browser-like client, signed in to the console with ``credential``."""
    browser = httpx.Client(base_url=base_url, follow_redirects=False, timeout=60)
    form = browser.get("/console/sign-in")
    token = SIGN_IN_TOKEN.search(form.text)
    if token is None:
        raise RuntimeError(f"no sign-in form: {form.status_code} {form.text[:300]}")
    data = {"credential": credential, "sign_in_token": token.group(1), "next": ""}
    reply = browser.post("/console/sign-in", data=data)
    if reply.status_code != 303:
        raise RuntimeError(f"sign-in refused: {reply.status_code} {reply.text[:300]}")
    return browser


def ok(browser: httpx.Client, path: str) -> httpx.Response:
    reply = browser.get(path)
    if reply.status_code != 200:
        raise RuntimeError(f"GET {path}: {reply.status_code}\n{reply.text[:1000]}")
    return reply


def next_page(browser: httpx.Client, path: str) -> str:
    """The first page's "Next page" link."""
    found = NEXT_PAGE.search(ok(browser, path).text)
    if found is None:
        raise RuntimeError(f"GET {path} has no next page")
    return html.unescape(found.group(1))


def pages(browser: httpx.Client, fixtures: Fixtures, admin: bool) -> list[tuple[str, str]]:
    """(label, path) of every page this user may open: the tenant-visible ones for both."""
    first_function, some_name = FUNCTIONS[3][0], NAMES[1]
    small, wide = fixtures.workflow_ids
    found = [
        ("overview", "/console/overview"),
        ("overview throughput.json", "/console/overview/throughput.json"),
        ("tasks", "/console/tasks"),
        ("tasks next page", next_page(browser, "/console/tasks")),
        ("tasks status=failed", "/console/tasks?status=failed"),
        ("tasks status=completed", "/console/tasks?status=completed"),
        ("tasks status=queued", "/console/tasks?status=queued"),
        (f"tasks function={first_function}", f"/console/tasks?function={first_function}"),
        (f"tasks name={some_name}", f"/console/tasks?name={some_name}"),
        ("tasks name=(none: bounded look)", "/console/tasks?name=no-such-name"),
        ("tasks priority=HIGH", "/console/tasks?priority=HIGH"),
        ("tasks batch", f"/console/tasks?batch={fixtures.batch_id}"),
        (f"tasks workflow ({WORKFLOW_WIDTHS[1] + 2:,} nodes)", f"/console/tasks?workflow={wide}"),
        ("tasks order=oldest", "/console/tasks?order=oldest"),
        ("task (failed)", f"/console/tasks/{fixtures.finished_task_id}"),
        ("task (queued)", f"/console/tasks/{fixtures.queued_task_id}"),
        ("task panel", f"/console/tasks/{fixtures.finished_task_id}/panel"),
        ("batches and workflows", "/console/batches"),
        (f"workflow ({WORKFLOW_WIDTHS[0] + 2} nodes, drawn)", f"/console/workflows/{small}"),
        (f"workflow ({WORKFLOW_WIDTHS[1] + 2:,} nodes)", f"/console/workflows/{wide}"),
        ("schedules", "/console/schedules"),
        ("schedule", f"/console/schedules/{fixtures.schedule_id}"),
        ("dead letters", "/console/dead-letters"),
        ("webhooks", "/console/webhooks"),
        ("webhook", f"/console/webhooks/{fixtures.webhook_id}"),
    ]
    if admin:
        found += [
            (f"tasks principal={OTHER_TENANT}", f"/console/tasks?principal={OTHER_TENANT}"),
            ("keys", "/console/keys"),
        ]
    return found


@dataclass(frozen=True)
class Timing:
    user: str
    page: str
    times_ms: list[float]
    redis_calls: float  # per request, the scripts' own calls included
    scans: int  # SCAN and KEYS calls: none may happen

    @property
    def p95(self) -> float:
        return percentile(self.times_ms, 0.95)

    def row(self) -> tuple[Any, ...]:
        slow = "SLOW" if self.p95 >= SLOW_MS else ""
        median, worst = statistics.median(self.times_ms), max(self.times_ms)
        calls = round(self.redis_calls)
        return (self.user, self.page, median, self.p95, worst, calls, self.scans or "", slow)


def command_calls(client: redis.Redis) -> Counter[str]:
    stats = client.info("commandstats")
    return Counter({name.removeprefix("cmdstat_"): s["calls"] for name, s in stats.items()})


def time_page(
    browser: httpx.Client, stats: redis.Redis, user: str, label: str, path: str
) -> Timing:
    for _ in range(WARM_UP):
        ok(browser, path)
    stats.config_resetstat()
    times = []
    for _ in range(TIMED):
        began = time.perf_counter()
        ok(browser, path)
        times.append((time.perf_counter() - began) * 1000)
    calls = command_calls(stats)
    calls["info"] = calls["config"] = calls["config|resetstat"] = 0  # this function's own
    scans = calls["scan"] + calls["keys"]
    return Timing(user, label, times, calls.total() / TIMED, scans)


def measure(
    base_url: str, redis_url: str, users: dict[str, str], fixtures: Fixtures
) -> list[Timing]:
    with redis.Redis.from_url(redis_url, decode_responses=True) as stats:
        return [
            timing
            for user, credential in users.items()
            for timing in measure_as(base_url, stats, user, credential, fixtures)
        ]


def measure_as(
    base_url: str, stats: redis.Redis, user: str, credential: str, fixtures: Fixtures
) -> list[Timing]:
    browser = signed_in(base_url, credential)
    timings = []
    try:
        for label, path in pages(browser, fixtures, admin=user == "admin"):
            timings.append(time_page(browser, stats, user, label, path))
            print(f"  {user:<9} {label:<34} p95 {timings[-1].p95:7.1f} ms", flush=True)
    finally:
        browser.close()
    return timings


# ------------------------------------------------------------------ the run


def start_redis(folder: Path) -> str:
    options = {"appendonly": "no", "save": ""}  # nothing to keep: the run fills it afresh
    return start_redis_server(folder, free_port(), options)


def stop_redis(redis_url: str) -> None:
    with contextlib.suppress(redis.ConnectionError):  # it closes the connection as it goes
        redis.Redis.from_url(redis_url).shutdown(nosave=True)


@dataclass
class Run:
    filled: Filled
    fill_s: float
    memory: dict[str, Any]  # INFO memory once filled
    timings: list[Timing]


def run(args: argparse.Namespace, home: Path) -> Run:
    redis_url = start_redis(home / "redis")
    env = bench_env(home, redis_url)
    os.environ.update(env)  # load_settings here reads what the gateway reads
    server = None
    try:
        settings = load_settings()
        admin_key = launcher.ensure_admin_key(settings, redis_url)
        launcher.accept_tasks(settings, redis_url)
        port = free_port()
        server = serve(env, port, home / "gateway.log")
        base_url = f"http://127.0.0.1:{port}"
        began = time.monotonic()
        filled = asyncio.run(fill(redis_url, base_url, args))
        fill_s = time.monotonic() - began
        with redis.Redis.from_url(redis_url, decode_responses=True) as client:
            memory = client.info("memory")
        report_fill(filled, fill_s, memory["used_memory_human"], args.finished)
        users = {"admin": admin_key, MEASURED_TENANT: filled.tenant_keys[MEASURED_TENANT]}
        print("\ntiming pages", flush=True)
        timings = measure(base_url, redis_url, users, filled.fixtures)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        stop_redis(redis_url)
    return Run(filled, fill_s, memory, timings)


def report_fill(filled: Filled, fill_s: float, memory_human: str, finished: int) -> None:
    ended = ", ".join(f"{n:,} {status.value}" for status, n in filled.ended.most_common())
    phases = ", ".join(f"{phase} {s:.1f} s" for phase, s in filled.seconds.items())
    over_the_api = filled.ended.total() - finished
    print(f"\nfilled in {fill_s:.1f} s ({phases}); Redis used_memory {memory_human}")
    print(f"ended: {ended} ({over_the_api:,} of them the API-made batches' and workflows')")


def report(args: argparse.Namespace, done: Run) -> None:
    print_table(
        f"Console pages, {args.finished:,} finished and {args.queued:,} queued tasks: the "
        f"gateway app under uvicorn (no Serve proxy), {TIMED} sequential requests each",
        ["user", "page", "median ms", "p95 ms", "max ms", "redis cmds/req", "scans", ""],
        [t.row() for t in done.timings],
    )
    print(f"\np95 >= {SLOW_MS:.0f} ms: {', '.join(slow_pages(done)) or 'none'}")
    print(f"pages that scanned the keyspace: {', '.join(scanning_pages(done)) or 'none'}")


def slow_pages(done: Run) -> list[str]:
    return [f"{t.user}: {t.page}" for t in done.timings if t.p95 >= SLOW_MS]


def scanning_pages(done: Run) -> list[str]:
    return [f"{t.user}: {t.page}" for t in done.timings if t.scans]


def record(args: argparse.Namespace, done: Run) -> None:
    write_result(
        "console",
        {
            "finished": args.finished,
            "queued": args.queued,
            "server": "the gateway app under uvicorn, one process, no Ray Serve proxy",
            "fill_s": done.fill_s,
            "fill_phases_s": done.filled.seconds,
            "used_memory": done.memory["used_memory"],
            "used_memory_human": done.memory["used_memory_human"],
            "ended": {status.value: n for status, n in done.filled.ended.items()},
            "pages": [
                {
                    "user": t.user,
                    "page": t.page,
                    "median_ms": statistics.median(t.times_ms),
                    "p95_ms": t.p95,
                    "max_ms": max(t.times_ms),
                    "redis_calls_per_request": t.redis_calls,
                    "scans": t.scans,
                    "times_ms": t.times_ms,
                }
                for t in done.timings
            ],
            "slow": slow_pages(done),
            "scanned": scanning_pages(done),
        },
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--finished", type=int, default=1_000_000)
    parser.add_argument("--queued", type=int, default=100_000)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="vokaflow-bench-console-"))
    try:
        done = run(args, home)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    report(args, done)
    record(args, done)


if __name__ == "__main__":
    main()
