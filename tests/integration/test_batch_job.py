"""`ray job submit -- python -m vokaflow.jobs.batch` on the test stack's own Ray head: the
real Ray Jobs CLI, the real dashboard, the real API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from vokaflow.testing.stack import LocalStack

RAY = str(Path(sys.executable).parent / "ray")


def write_jsonl(path: Path, lines: list[Any]) -> Path:
    path.write_text("".join(x if isinstance(x, str) else json.dumps(x) + "\n" for x in lines))
    return path


def submit_job(stack: LocalStack, tasks: Path, results: Path) -> subprocess.CompletedProcess[str]:
    """`ray job submit` as a user runs it; the job finds the API through its runtime env.

    The entrypoint names this venv's python: the Ray head's PATH need not lead to it."""
    runtime_env = {
        "env_vars": {"VOKAFLOW_API_URL": stack.base_url, "VOKAFLOW_API_KEY": stack.admin_key}
    }
    command = [
        RAY, "job", "submit",
        "--address", f"http://127.0.0.1:{stack.dashboard_port}",
        "--runtime-env-json", json.dumps(runtime_env),
        "--",
        sys.executable, "-m", "vokaflow.jobs.batch", str(tasks),
        "--priority", "BATCH", "--wait", "--results", str(results),
    ]  # fmt: skip
    env = {**os.environ, "RAY_AUTH_MODE": os.environ.get("RAY_AUTH_MODE", "disabled")}
    env.pop("RAY_ADDRESS", None)
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_ray_job_submits_a_thousand_tasks_waits_and_writes_every_result(stack, tmp_path):
    tasks = write_jsonl(
        tmp_path / "tasks.jsonl",
        [{"name": f"noop-{i}", "function_name": "noop"} for i in range(1000)],
    )
    results = tmp_path / "results.jsonl"
    run = submit_job(stack, tasks, results)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-6000:]
    assert "submitted 1000/1000 lines: 1000 accepted, 0 refused" in output
    lines = read_jsonl(results)
    assert len(lines) == 1000
    assert {line["status"] for line in lines} == {"completed"}
    assert [line["name"] for line in lines] == [f"noop-{i}" for i in range(1000)]
    assert len({line["task_id"] for line in lines}) == 1000
    with stack.client() as api:
        task = api.get(f"/api/high-scale-tasks/status/{lines[0]['task_id']}").json()
    assert task["priority"] == "BATCH"


def test_a_ray_job_with_a_failing_task_and_a_bad_line_fails(stack, tmp_path):
    tasks = write_jsonl(
        tmp_path / "tasks.jsonl",
        [
            *({"name": f"noop-{i}", "function_name": "noop"} for i in range(5)),
            {
                "name": "boom",
                "function_name": "raise_error",
                "args": ["boom-msg"],
                "retry_count": 0,
            },
            "{this line is not JSON\n",
        ],
    )
    results = tmp_path / "results.jsonl"
    run = submit_job(stack, tasks, results)
    output = run.stdout + run.stderr
    assert run.returncode != 0, output[-6000:]
    assert "line 7: invalid_json" in output, output[-6000:]
    by_line = {line["line"]: line for line in read_jsonl(results)}
    assert by_line[6]["status"] == "failed"
    assert "boom-msg" in json.dumps(by_line[6]["error"])
    assert by_line[7]["status"] == "refused"
    assert {by_line[n]["status"] for n in range(1, 6)} == {"completed"}
