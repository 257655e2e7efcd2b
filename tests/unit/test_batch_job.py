"""`python -m vokaflow.jobs.batch` against an in-memory twin of the batch endpoints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from vokaflow.jobs import batch
from vokaflow.jobs.batch import Options, run_job
from vokaflow.jobs.client import BatchJobError

OUTCOME = {"raise_error": "failed", "slow_cancel": "cancelled"}


class FakeApi:
    """POST /batch, GET /batch/{id} and GET /status/{id}, in memory. A task ends as its
    function says (OUTCOME, else completed); a batch reports its tasks unfinished on its
    first poll. Knobs: answers of 429 or 503 to the next requests, a rate limit that
    refuses tasks past the first N of the next request, a body limit in tasks (413)."""

    def __init__(self) -> None:
        self.tasks: dict[str, dict[str, Any]] = {}
        self.batches: dict[str, list[str]] = {}
        self.polls: dict[str, int] = {}
        self.replies: dict[str, dict[str, Any]] = {}  # by idempotency key
        self.sizes: list[int] = []  # tasks per POST /batch, in order
        self.keys: list[str] = []
        self.status_reads = 0
        self.answers: list[int] = []  # 429 / 503 for the next requests
        self.admit_only: int | None = None  # the next request's tasks past this are limited
        self.max_tasks: int | None = None
        self.lose_next_reply = False  # process the next batch, then break the connection
        self.on_submit: Any = None

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        assert request.headers["X-API-Key"] == "key"
        path = request.url.path.removeprefix("/api/high-scale-tasks")
        if self.answers:
            code = self.answers.pop(0)
            details = {"retry_after": 2} if code == 429 else {"component": "redis"}
            return httpx.Response(code, json={"error": "x", "message": "x", "details": details})
        if request.method == "POST" and path == "/batch":
            return self.submit(json.loads(request.content))
        if path.startswith("/batch/"):
            return httpx.Response(200, json=self.batch_status(path.removeprefix("/batch/")))
        if path.startswith("/status/"):
            self.status_reads += 1
            task = self.tasks.get(path.removeprefix("/status/"))
            return httpx.Response(200, json=task) if task else httpx.Response(404, json={})
        return httpx.Response(404, json={})

    def submit(self, body: dict[str, Any]) -> httpx.Response:
        if self.on_submit:
            self.on_submit(body)
        self.sizes.append(len(body["tasks"]))
        self.keys.append(body["idempotency_key"])
        if self.max_tasks is not None and len(body["tasks"]) > self.max_tasks:
            return httpx.Response(413, json={"error": "payload_too_large"})
        reply = self.replies.get(body["idempotency_key"]) or self.new_batch(body)
        self.replies[body["idempotency_key"]] = reply
        if self.lose_next_reply:
            self.lose_next_reply = False
            raise httpx.ReadTimeout("the reply was lost")
        return httpx.Response(200, json=reply)

    def new_batch(self, body: dict[str, Any]) -> dict[str, Any]:
        batch_id = f"batch_{len(self.batches)}"
        accepted, errors = [], []
        admit, self.admit_only = self.admit_only, None
        for index, task in enumerate(body["tasks"]):
            error = self.refusal(task, index, admit)
            if error:
                errors.append({"index": index, "name": task.get("name"), **error})
                continue
            task_id = f"t{len(self.tasks)}"
            status = OUTCOME.get(task["function_name"], "completed")
            self.tasks[task_id] = {
                "task_id": task_id,
                "name": task["name"],
                "status": status,
                "priority": task.get("priority", body.get("batch_priority", "NORMAL")),
                "result": {"line_name": task["name"]} if status == "completed" else None,
                "error": None if status == "completed" else {"type": "RuntimeError"},
            }
            accepted.append({"task_id": task_id, "name": task["name"], "partition": 0})
        self.batches[batch_id] = [ref["task_id"] for ref in accepted]
        return {"batch_id": batch_id, "successful_tasks": accepted, "errors": errors}

    @staticmethod
    def refusal(task: dict[str, Any], index: int, admit: int | None) -> dict[str, Any] | None:
        if task["function_name"] == "unknown":
            details = {"field": f"tasks[{index}].function_name"}
            return {"error": "validation_error", "message": "unknown function", "details": details}
        if admit is not None and index >= admit:
            return {"error": "rate_limit_exceeded", "message": "x", "details": {"retry_after": 3}}
        return None

    def batch_status(self, batch_id: str) -> dict[str, Any]:
        self.polls[batch_id] = self.polls.get(batch_id, 0) + 1
        statuses = [self.tasks[task_id]["status"] for task_id in self.batches[batch_id]]
        counts = {s: statuses.count(s) for s in ("completed", "failed", "cancelled", "timeout")}
        if self.polls[batch_id] == 1:
            counts = dict.fromkeys(counts, 0)
        return {"batch_id": batch_id, **counts, "unfinished": len(statuses) - sum(counts.values())}


@pytest.fixture
def fake() -> FakeApi:
    return FakeApi()


@pytest.fixture
def sleeps() -> list[float]:
    return []


def write_tasks(path: Path, lines: list[Any]) -> Path:
    path.write_text("".join(x if isinstance(x, str) else json.dumps(x) + "\n" for x in lines))
    return path


def noops(count: int) -> list[dict[str, Any]]:
    return [{"name": f"n{i}", "function_name": "noop"} for i in range(count)]


def read_results(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def run(
    tmp_path: Path, fake: FakeApi, sleeps: list[float], lines: list[Any], **options: Any
) -> int:
    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    job = Options(
        tasks=write_tasks(tmp_path / "tasks.jsonl", lines),
        api_url="http://vokaflow.test",
        api_key="key",
        **{"results": tmp_path / "results.jsonl", "wait": True, **options},
    )
    return await run_job(job, transport=fake.transport(), sleep=sleep)


async def test_the_file_goes_in_chunks_of_chunk_size_and_every_line_gets_a_result(
    tmp_path, fake, sleeps
):
    status = await run(tmp_path, fake, sleeps, noops(1050), chunk_size=500, priority="BATCH")
    assert status == 0
    assert fake.sizes == [500, 500, 50]
    results = read_results(tmp_path / "results.jsonl")
    assert [r["line"] for r in results] == list(range(1, 1051))
    assert {r["status"] for r in results} == {"completed"}
    assert results[7]["result"] == {"line_name": "n7"}
    assert {task["priority"] for task in fake.tasks.values()} == {"BATCH"}


async def test_the_file_is_read_one_chunk_at_a_time(tmp_path, fake, sleeps, monkeypatch):
    parsed: list[int] = []
    real_parse = batch.parse_line

    def counting_parse(number: int, raw: bytes) -> batch.Line | batch.Outcome:
        parsed.append(number)
        return real_parse(number, raw)

    monkeypatch.setattr(batch, "parse_line", counting_parse)
    parsed_at_each_submit: list[int] = []
    fake.on_submit = lambda body: parsed_at_each_submit.append(len(parsed))
    assert await run(tmp_path, fake, sleeps, noops(30), chunk_size=10, wait=False) == 0
    assert parsed_at_each_submit == [10, 20, 30]


async def test_bad_lines_are_reported_by_line_number_and_the_rest_go_on(
    tmp_path, fake, sleeps, capsys
):
    lines = [
        {"name": "a", "function_name": "noop"},
        "{not json\n",
        "\n",
        "[1, 2]\n",
        {"name": "b", "function_name": "unknown"},
        {"function_name": "noop"},
    ]
    assert await run(tmp_path, fake, sleeps, lines) == 1
    results = read_results(tmp_path / "results.jsonl")
    assert [(r["line"], r["status"]) for r in results] == [
        (1, "completed"),
        (2, "refused"),
        (4, "refused"),
        (5, "refused"),
        (6, "completed"),
    ]
    assert results[1]["error"]["error"] == "invalid_json"
    assert results[2]["error"]["error"] == "invalid_task"
    assert results[3]["error"]["details"] == {"field": "tasks[1].function_name"}
    assert results[4]["name"] == "noop"  # a line without a name takes its function's
    out = capsys.readouterr().out
    assert "line 2: invalid_json" in out
    assert "line 5: validation_error" in out


async def test_a_failed_or_cancelled_task_makes_the_exit_status_non_zero(tmp_path, fake, sleeps):
    lines = [*noops(3), {"name": "bad", "function_name": "raise_error", "retry_count": 0}]
    assert await run(tmp_path, fake, sleeps, lines) == 1
    failed = read_results(tmp_path / "results.jsonl")[3]
    assert failed["status"] == "failed"
    assert failed["error"] == {"type": "RuntimeError"}
    assert await run(tmp_path, fake, sleeps, [{"name": "c", "function_name": "slow_cancel"}]) == 1


async def test_without_wait_task_ids_are_written_and_no_status_is_read(tmp_path, fake, sleeps):
    lines = [*noops(2), "oops\n"]
    assert await run(tmp_path, fake, sleeps, lines, wait=False) == 1  # a refused line
    results = read_results(tmp_path / "results.jsonl")
    assert [r["status"] for r in results] == ["submitted", "submitted", "refused"]
    assert [r["task_id"] for r in results[:2]] == ["t0", "t1"]
    assert fake.status_reads == 0 and not fake.polls


async def test_with_wait_and_no_results_file_only_batch_counts_are_read(tmp_path, fake, sleeps):
    assert await run(tmp_path, fake, sleeps, noops(20), chunk_size=5, results=None) == 0
    assert fake.status_reads == 0
    assert set(fake.polls.values()) == {2}  # one poll that found each batch open, one done


async def test_a_429_is_waited_out_for_its_retry_after_and_the_chunk_sent_again(
    tmp_path, fake, sleeps
):
    fake.answers = [429]
    assert await run(tmp_path, fake, sleeps, noops(4)) == 0
    assert sleeps[0] == 2.0
    assert len(fake.tasks) == 4


async def test_tasks_over_a_rate_limit_are_sent_again_after_retry_after(tmp_path, fake, sleeps):
    fake.admit_only = 3
    assert await run(tmp_path, fake, sleeps, noops(10)) == 0
    assert fake.sizes == [10, 7]
    assert sleeps[0] == 3.0
    results = read_results(tmp_path / "results.jsonl")
    assert [r["name"] for r in results] == [f"n{i}" for i in range(10)]  # file order
    assert {r["status"] for r in results} == {"completed"}


async def test_a_retried_chunk_is_never_submitted_twice(tmp_path, fake, sleeps):
    fake.lose_next_reply = True
    fake.answers = [503]
    assert await run(tmp_path, fake, sleeps, noops(5)) == 0
    assert len(fake.tasks) == 5
    assert len(set(fake.keys)) == 1 and len(fake.keys) == 2  # the same key, twice


async def test_a_chunk_too_large_for_the_api_is_split(tmp_path, fake, sleeps):
    fake.max_tasks = 150
    assert await run(tmp_path, fake, sleeps, noops(500)) == 0
    assert len(fake.tasks) == 500
    assert max(size for size in fake.sizes if size <= 150) == 125


async def test_a_refused_key_stops_the_job(tmp_path, sleeps):
    deny = httpx.MockTransport(lambda request: httpx.Response(401, json={"error": "x"}))

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    job = Options(write_tasks(tmp_path / "t.jsonl", noops(1)), "http://x", "bad")
    with pytest.raises(BatchJobError, match="refused the key"):
        await run_job(job, transport=deny, sleep=sleep)


async def test_the_wait_ends_at_wait_timeout_with_a_non_zero_exit(tmp_path, fake, sleeps):
    fake.batch_status = lambda batch_id: {
        "batch_id": batch_id,
        **dict.fromkeys(("completed", "failed", "cancelled", "timeout"), 0),
        "unfinished": 1,
    }
    assert await run(tmp_path, fake, sleeps, noops(1), wait_timeout_s=0.0) == 1


def test_the_api_comes_from_the_environment_else_from_the_local_service(tmp_path, monkeypatch):
    for name in ("VOKAFLOW_API_URL", "VOKAFLOW_URL", "VOKAFLOW_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("VOKAFLOW_HOME", str(tmp_path))
    monkeypatch.setenv("VOKAFLOW_PORT", "8123")
    (tmp_path / "admin_key").write_text("admin-key\n")
    assert batch.resolve_api(None, None) == ("http://localhost:8123", "admin-key")
    monkeypatch.setenv("VOKAFLOW_API_URL", "http://api.example:9000/")
    monkeypatch.setenv("VOKAFLOW_API_KEY", "env-key")
    assert batch.resolve_api(None, None) == ("http://api.example:9000", "env-key")
    assert batch.resolve_api("http://given", "given-key") == ("http://given", "given-key")


def test_the_command_line_exits_2_for_a_missing_file_or_key(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VOKAFLOW_HOME", str(tmp_path))
    monkeypatch.delenv("VOKAFLOW_API_KEY", raising=False)
    assert batch.main([str(tmp_path / "tasks.jsonl")]) == 2
    assert "no API key" in capsys.readouterr().err
    assert batch.main([str(tmp_path / "none.jsonl"), "--api-key", "k"]) == 2
    assert "no such file" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        batch.main(["x.jsonl", "--chunk-size", "100001"])


def test_with_wait_the_results_go_beside_the_tasks_file_unless_named(tmp_path):
    from vokaflow.jobs.batch import _results_beside

    assert _results_beside(tmp_path / "tasks.jsonl") == tmp_path / "tasks.results.jsonl"
    assert _results_beside(tmp_path / "in.txt") == tmp_path / "in.txt.results.jsonl"
