"""Submit a JSONL file of tasks to VokaFlow, as a Ray job or from any shell.

    RAY_AUTH_MODE=disabled ray job submit --address http://HEAD:8265 -- \\
        python -m vokaflow.jobs.batch /data/tasks.jsonl --priority BATCH --wait \\
        --results /data/results.jsonl

Each line of the file is one task as ``POST /api/high-scale-tasks/submit`` takes it (name,
function_name, args, kwargs, priority, ...; the name defaults to the function name). The
file is streamed: read line by line and sent in chunks of ``--chunk-size`` lines to
``POST /api/high-scale-tasks/batch``, one chunk in memory at a time. A line that is not a
JSON object, or that the API refuses (validation, unknown function), is reported with its
line number and counted as failed; the other lines go on. Tasks refused for their
category's rate limit are sent again after the ``retry_after`` the API gave. A 429, 409 or
5xx-unavailable answer to a whole request, or a broken connection, is retried with the
same idempotency key, so a retried chunk is never submitted twice.

Without ``--wait`` the job writes one JSON line per input line (line, task_id, name,
batch_id, status ``submitted`` or ``refused``, error) to ``--results``, else to stdout.
With ``--wait`` it follows each chunk's batch (``GET /batch/{id}``: counts only) until
every task has ended; with ``--results`` it then reads each task's status, ``--concurrency``
at a time, and writes one line per input line: line, task_id, name, status, result, error.

Exit status: 0 when every line was accepted (and, with ``--wait``, completed); 1 when a
line was refused or a task failed, was cancelled, timed out or had not ended by
``--wait-timeout``; 2 for a usage or configuration error, or when the API cannot be used.

The API's URL and key: ``--api-url`` / ``--api-key``, else VOKAFLOW_API_URL (or
VOKAFLOW_URL) / VOKAFLOW_API_KEY, else the local service's, found as the ``vokaflow`` CLI
finds them (``http://localhost:VOKAFLOW_PORT`` and the admin key in VOKAFLOW_HOME).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO, TypeVar

import httpx

from vokaflow.config import load_settings
from vokaflow.domain import FINISHED, Priority, TaskStatus
from vokaflow.errors import ConfigError
from vokaflow.jobs.client import Api, BatchJobError, Sleep, gather_bounded

MAX_CHUNK_SIZE = 100_000  # BatchSubmitRequest.tasks takes at most this many
TERMINAL = tuple(status.value for status in FINISHED)
RATE_LIMITED = "rate_limit_exceeded"
RESULT_WINDOW = 1_000  # task statuses read per round while writing results
MAX_REPORTED_LINES = 100  # refused lines printed one by one; the rest only counted
PROGRESS_EVERY_S = 2.0
EXIT_OK, EXIT_FAILED, EXIT_UNUSABLE = 0, 1, 2

T = TypeVar("T")


@dataclass(frozen=True)
class Options:
    """One run of the job, as the command line gives it."""

    tasks: Path
    api_url: str
    api_key: str
    priority: str | None = None
    wait: bool = False
    results: Path | None = None
    chunk_size: int = 500
    concurrency: int = 16
    poll_interval_s: float = 1.0
    wait_timeout_s: float | None = None
    max_attempts: int = 8
    request_timeout_s: float = 60.0


@dataclass(frozen=True)
class Line:
    """One line of the file that parsed as a task."""

    number: int
    task: dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    """What submitting one line came to: a task id, or the error that refused it."""

    line: int
    name: str | None
    task_id: str | None = None
    batch_id: str | None = None
    error: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "task_id": self.task_id,
            "name": self.name,
            "batch_id": self.batch_id,
            "status": "submitted" if self.task_id else "refused",
            "result": None,
            "error": self.error,
        }


def refused(number: int, name: str | None, code: str, message: str) -> Outcome:
    return Outcome(number, name, error={"error": code, "message": message, "details": None})


# ---------------------------------------------------------------- reading the file


def parse_line(number: int, raw: bytes) -> Line | Outcome:
    try:
        task = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError
        return refused(number, None, "invalid_json", f"not a JSON line: {exc}")
    if not isinstance(task, dict):
        return refused(number, None, "invalid_task", "a task must be a JSON object")
    if "name" not in task and isinstance(task.get("function_name"), str):
        task["name"] = task["function_name"]
    return Line(number, task)


def read_lines(path: Path) -> Iterator[Line | Outcome]:
    """Every non-blank line of the file, parsed; one line in memory at a time."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if raw.strip():
                yield parse_line(number, raw)


def count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for raw in handle if raw.strip())


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# ---------------------------------------------------------------- submitting


def read_reply(body: dict[str, Any], lines: list[Line]) -> tuple[list[Outcome], list[Line], float]:
    """The lines a batch took or refused; the rate-limited ones to send again, after a wait."""
    errors = {int(error["index"]): error for error in body["errors"]}
    accepted = body["successful_tasks"]
    if len(accepted) + len(errors) != len(lines):
        raise BatchJobError(f"batch {body.get('batch_id')}: tasks and errors do not add up")
    refs = iter(accepted)
    outcomes: list[Outcome] = []
    again: list[Line] = []
    wait_s = 0.0
    for index, line in enumerate(lines):
        error = errors.get(index)
        if error is None:
            ref = next(refs)
            outcomes.append(Outcome(line.number, ref["name"], ref["task_id"], body["batch_id"]))
        elif error["error"] == RATE_LIMITED:
            again.append(line)
            wait_s = max(wait_s, float((error.get("details") or {}).get("retry_after", 1)))
        else:
            detail = {k: error.get(k) for k in ("error", "message", "details")}
            outcomes.append(Outcome(line.number, error.get("name"), error=detail))
    return outcomes, again, wait_s


async def submit_lines(api: Api, lines: list[Line], options: Options, run_id: str) -> list[Outcome]:
    """Submit these lines as one batch (two, if too large), again until none is rate-limited."""
    outcomes: list[Outcome] = []
    pending, attempt = lines, 0
    while pending:
        key = f"vokaflow.jobs.batch:{run_id}:{pending[0].number}-{pending[-1].number}:{attempt}"
        body = await api.submit([line.task for line in pending], options.priority, key)
        if body is None:
            return outcomes + await _split(api, pending, options, run_id)
        taken, pending, wait_s = read_reply(body, pending)
        outcomes += taken
        attempt += 1
        if pending:
            print(f"{len(pending)} task(s) over a rate limit: again in {wait_s:g} s", flush=True)
            await api.sleep(max(0.1, wait_s))
    return outcomes


async def _split(api: Api, lines: list[Line], options: Options, run_id: str) -> list[Outcome]:
    if len(lines) == 1:
        message = "the task is larger than the API takes (413)"
        return [refused(lines[0].number, lines[0].task.get("name"), "payload_too_large", message)]
    half = len(lines) // 2
    first = await submit_lines(api, lines[:half], options, run_id)
    return first + await submit_lines(api, lines[half:], options, run_id)


async def submit_chunk(
    api: Api, items: list[Line | Outcome], options: Options, run_id: str
) -> list[Outcome]:
    """One chunk of the file: lines refused while parsing plus what the API made of the rest."""
    early = [item for item in items if isinstance(item, Outcome)]
    lines = [item for item in items if isinstance(item, Line)]
    sent = await submit_lines(api, lines, options, run_id) if lines else []
    return sorted(early + sent, key=lambda outcome: outcome.line)


# ---------------------------------------------------------------- progress


@dataclass
class Progress:
    """Counts for the progress lines on stdout (what ``ray job logs`` shows)."""

    total_lines: int
    started_s: float = field(default_factory=time.monotonic)
    submitted: int = 0
    refused: int = 0
    batch_ids: dict[str, None] = field(default_factory=dict)  # in order of submission
    last_print_s: float = 0.0
    last_line: str = ""

    def rate(self, count: int) -> float:
        return count / max(1e-6, time.monotonic() - self.started_s)

    def record(self, outcomes: list[Outcome]) -> None:
        for outcome in outcomes:
            if outcome.task_id is None:
                self.refused += 1
                if self.refused <= MAX_REPORTED_LINES:
                    error = outcome.error or {}
                    print(f"line {outcome.line}: {error.get('error')}: {error.get('message')}")
                elif self.refused == MAX_REPORTED_LINES + 1:
                    print("more lines refused: see the results file for each")
            else:
                self.submitted += 1
                self.batch_ids.setdefault(outcome.batch_id or "", None)

    def show(self, line: str, final: bool) -> None:
        """Print a progress line every PROGRESS_EVERY_S at most, and the final one, once."""
        now = time.monotonic()
        if line != self.last_line and (final or now - self.last_print_s >= PROGRESS_EVERY_S):
            print(line, flush=True)
            self.last_print_s, self.last_line = now, line

    def print_submitted(self, final: bool = False) -> None:
        done = self.submitted + self.refused
        self.show(
            f"submitted {done}/{self.total_lines} lines: {self.submitted} accepted, "
            f"{self.refused} refused ({self.rate(done):.0f} lines/s)",
            final,
        )

    def print_waiting(self, counts: Counter[str], final: bool = False) -> None:
        ended = sum(counts[status] for status in TERMINAL)
        self.show(
            ", ".join(f"{status} {counts[status]}" for status in TERMINAL)
            + f", unfinished {counts['unfinished']} of {self.submitted} "
            f"({self.rate(ended):.0f} tasks/s)",
            final,
        )


# ---------------------------------------------------------------- waiting and results


async def wait_for_batches(
    api: Api, batch_ids: list[str], options: Options, progress: Progress
) -> Counter[str]:
    """Poll the batches' counts until every task ended (or --wait-timeout); the totals."""
    deadline = None if options.wait_timeout_s is None else time.monotonic() + options.wait_timeout_s
    ended: Counter[str] = Counter()
    open_ids = list(batch_ids)
    while True:
        statuses = await gather_bounded(map(api.batch_status, open_ids), options.concurrency)
        current: Counter[str] = Counter()
        still_open = []
        for batch_id, status in zip(open_ids, statuses, strict=True):
            counts = Counter({key: int(status.get(key, 0)) for key in (*TERMINAL, "unfinished")})
            if counts["unfinished"] == 0:
                ended.update(counts)
            else:
                current.update(counts)
                still_open.append(batch_id)
        open_ids = still_open
        timed_out = deadline is not None and time.monotonic() >= deadline
        progress.print_waiting(ended + current, final=not open_ids or timed_out)
        if not open_ids or timed_out:
            return ended + current
        await api.sleep(options.poll_interval_s)


def result_line(submitted: dict[str, Any], status: dict[str, Any] | None) -> dict[str, Any]:
    if not submitted["task_id"]:
        return submitted
    if status is None:
        status = {"status": "unknown", "error": {"message": "the task's record is gone"}}
    return {
        **submitted,
        "status": status["status"],
        "result": status.get("result"),
        "error": status.get("error"),
    }


async def write_results(api: Api, spool: TextIO, out: TextIO, concurrency: int) -> Counter[str]:
    """Each spooled line with its task's final status, in file order; counts per status."""
    spool.seek(0)
    counts: Counter[str] = Counter()
    for window in chunked(spool, RESULT_WINDOW):
        submitted = [json.loads(text) for text in window]
        ids = [entry["task_id"] for entry in submitted if entry["task_id"]]
        statuses = await gather_bounded(map(api.task_status, ids), concurrency)
        found = dict(zip(ids, statuses, strict=True))
        for entry in submitted:
            line = result_line(entry, found.get(entry["task_id"]))
            counts[line["status"]] += 1
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
    return counts


# ---------------------------------------------------------------- the job


async def submit_file(api: Api, options: Options, progress: Progress, sink: TextIO | None) -> None:
    run_id = uuid.uuid4().hex[:12]
    for items in chunked(read_lines(options.tasks), options.chunk_size):
        outcomes = await submit_chunk(api, items, options, run_id)
        progress.record(outcomes)
        if sink is not None:
            sink.writelines(json.dumps(o.as_json(), ensure_ascii=False) + "\n" for o in outcomes)
        progress.print_submitted()
    progress.print_submitted(final=True)


def _has_failures(counts: Counter[str]) -> bool:
    return any(
        counts[status] for status in counts if status not in (TaskStatus.COMPLETED, "submitted")
    )


async def run_job(
    options: Options,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    sleep: Sleep = asyncio.sleep,
) -> int:
    """Submit the file (and wait, and write results, as the options say); the exit status."""
    progress = Progress(count_lines(options.tasks))
    limits = httpx.Limits(max_connections=options.concurrency)
    headers = {"X-API-Key": options.api_key}
    async with httpx.AsyncClient(
        base_url=options.api_url,
        headers=headers,
        timeout=options.request_timeout_s,
        limits=limits,
        transport=transport,
    ) as client:
        api = Api(client, sleep, options.max_attempts)
        if not options.wait:
            return await _submit_only(api, options, progress)
        return await _submit_and_wait(api, options, progress)


async def _submit_only(api: Api, options: Options, progress: Progress) -> int:
    if options.results is None:
        await submit_file(api, options, progress, sys.stdout)
    else:
        with options.results.open("w", encoding="utf-8") as out:
            await submit_file(api, options, progress, out)
        print(f"task ids written to {options.results}")
    return EXIT_FAILED if progress.refused else EXIT_OK


async def _submit_and_wait(api: Api, options: Options, progress: Progress) -> int:
    with tempfile.TemporaryFile("w+", encoding="utf-8") as spool:
        await submit_file(api, options, progress, spool if options.results else None)
        counts = await wait_for_batches(api, list(progress.batch_ids), options, progress)
        unfinished = counts["unfinished"]  # at --wait-timeout: a failure, whatever follows
        if options.results is not None:
            with options.results.open("w", encoding="utf-8") as out:
                counts = await write_results(api, spool, out, options.concurrency)
            print(f"results written to {options.results}")
    counts["refused"] = progress.refused
    summary = ", ".join(f"{status} {n}" for status, n in sorted(counts.items()) if n)
    elapsed = time.monotonic() - progress.started_s
    print(f"done in {elapsed:.1f} s: {summary or 'no tasks'}", flush=True)
    if unfinished:
        print(f"{unfinished} task(s) had not ended after {options.wait_timeout_s:g} s", flush=True)
    return EXIT_FAILED if unfinished or _has_failures(counts) else EXIT_OK


# ---------------------------------------------------------------- command line


def _bounded_int(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}")
        return value

    return parse


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m vokaflow.jobs.batch", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("tasks", type=Path, help="JSONL file: one task object per line")
    parser.add_argument(
        "--priority",
        type=str.upper,
        choices=[p.name for p in Priority],
        help="batch_priority: the priority of each line that names none",
    )
    parser.add_argument("--wait", action="store_true", help="wait until every task has ended")
    parser.add_argument(
        "--results",
        type=Path,
        help="JSONL file to write, one line per line (with --wait, default: TASKS.results.jsonl)",
    )
    parser.add_argument(
        "--chunk-size",
        type=_bounded_int(1, MAX_CHUNK_SIZE),
        default=500,
        help="lines per batch request (default 500)",
    )
    parser.add_argument("--api-url", help="default: VOKAFLOW_API_URL, else the local service")
    parser.add_argument("--api-key", help="default: VOKAFLOW_API_KEY, else the admin key")
    parser.add_argument(
        "--concurrency",
        type=_bounded_int(1, 256),
        default=16,
        help="status requests at a time while waiting (default 16)",
    )
    parser.add_argument(
        "--poll-interval", type=float, default=1.0, help="seconds between polls (default 1)"
    )
    parser.add_argument("--wait-timeout", type=float, help="seconds (default: no limit)")
    return parser


def resolve_api(api_url: str | None, api_key: str | None) -> tuple[str, str]:
    """The API's base URL and key: given, else from the environment, else the local service's."""
    url = api_url or os.environ.get("VOKAFLOW_API_URL") or os.environ.get("VOKAFLOW_URL")
    key = api_key or os.environ.get("VOKAFLOW_API_KEY")
    if url and key:
        return url.rstrip("/"), key
    # the local service's bootstrap (the store, Redis) loads only when it is asked
    from vokaflow.runtime.launcher import api_key_for, base_url

    settings = load_settings()
    return (url or base_url(settings)).rstrip("/"), api_key_for(settings, key)


def _results_beside(tasks: Path) -> Path:
    """With --wait the results always land in a file: tasks.jsonl -> tasks.results.jsonl."""
    return tasks.with_name(tasks.name.removesuffix(".jsonl") + ".results.jsonl")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        url, key = resolve_api(args.api_url, args.api_key)
        if not args.tasks.is_file():
            raise ConfigError(f"{args.tasks}: no such file")
        options = Options(
            tasks=args.tasks,
            api_url=url,
            api_key=key,
            priority=args.priority,
            wait=args.wait,
            results=args.results or (_results_beside(args.tasks) if args.wait else None),
            chunk_size=args.chunk_size,
            concurrency=args.concurrency,
            poll_interval_s=args.poll_interval,
            wait_timeout_s=args.wait_timeout,
        )
        print(f"submitting {args.tasks} to {url}", flush=True)
        return asyncio.run(run_job(options))
    except (ConfigError, BatchJobError, OSError) as exc:
        print(f"vokaflow.jobs.batch: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE


if __name__ == "__main__":
    sys.exit(main())
