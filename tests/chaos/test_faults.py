"""Fault injection with real processes: the scheduler actor killed, a worker process killed,
Redis restarted. Every accepted task must end in exactly one terminal state."""

from __future__ import annotations

import os
import signal
import threading
import time

import httpx
import redis

from tests import ray_driver
from tests.chaos.drills import submit_sleeps
from vokaflow.config import NAMESPACE
from vokaflow.scheduler import SCHEDULER_NAME
from vokaflow.store.keys import Keys
from vokaflow.testing.tally import completed_count, wait_all_terminal

SUBMIT = "/api/high-scale-tasks/submit"


def _until(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _kill_scheduler(chaos_stack, at: float = 0.0) -> float:
    """Kill the scheduler actor at wall-clock time ``at`` (now if past); Ray restarts it.
    Returns when the kill was sent."""
    scheduler = {"name": SCHEDULER_NAME, "namespace": NAMESPACE}
    return float(
        ray_driver.call(chaos_stack.ray_address, "kill_actor", **scheduler, restart=True, at=at)
    )


def test_killing_the_scheduler_mid_run_loses_no_task(chaos_stack, chaos_api):
    # On the one-slot pool the run takes 2000 x 5 ms, some 10 s: the kill, which takes a few
    # seconds (a child process joins Ray to make it), lands in it. On the IO pool, which
    # grows to 128 slots, a fast run had ended before the kill.
    task_ids = submit_sleeps(chaos_api, 2000, 0.005, worker_type="MEMORY_INTENSIVE")
    _until(lambda: completed_count(chaos_stack, task_ids) >= 200, 60, "200 completions")
    _kill_scheduler(chaos_stack)
    assert completed_count(chaos_stack, task_ids) < 2000, "the kill came after the run"
    tally = wait_all_terminal(chaos_stack, task_ids, timeout_s=180)
    assert tally.missing == [] and tally.unfinished == []
    assert tally.by_status == {"completed": 2000}
    print(f"tasks run more than once after the scheduler kill: {tally.ran_again}")


def test_a_worker_killed_with_sigkill_runs_its_task_again_as_a_system_retry(chaos_api):
    accepted = chaos_api.post(
        SUBMIT, json={"name": "victim", "function_name": "sleep", "args": [3], "retry_count": 0}
    ).json()
    status_url = f"/api/high-scale-tasks/status/{accepted['task_id']}"

    def running_pid() -> int | None:
        body = chaos_api.get(status_url).json()
        return body["worker_pid"] if body["status"] == "running" else None

    _until(lambda: running_pid() is not None, 30, "the task to start")
    victim = running_pid()
    assert victim is not None
    os.kill(victim, signal.SIGKILL)
    _until(lambda: chaos_api.get(status_url).json()["status"] == "completed", 60, "completion")
    done = chaos_api.get(status_url).json()
    # A system failure, counted apart from the application's retry_count
    assert done["system_retries"] == 1 and done["retry_count"] == 0
    assert done["result"]["pid"] != victim


def test_a_redis_restart_gives_503s_then_every_task_completes(chaos_stack, chaos_api, redis_server):
    task_ids = submit_sleeps(chaos_api, 300, 0.02)
    redis_server.stop()
    try:
        during = chaos_api.post(SUBMIT, json={"name": "x", "function_name": "noop"})
        assert during.status_code == 503, during.text
        assert during.json()["details"]["component"] == "redis"
        status = chaos_api.get(f"/api/high-scale-tasks/status/{task_ids[0]}")
        assert status.status_code == 503
    finally:
        time.sleep(2)
        redis_server.start()
    _until(lambda: _accepts(chaos_api), 30, "submits to be accepted again")
    tally = wait_all_terminal(chaos_stack, task_ids, timeout_s=120)
    assert tally.missing == [] and tally.unfinished == []
    assert tally.by_status == {"completed": 300}


def test_submits_racing_a_redis_restart_are_either_refused_or_kept(
    chaos_stack, chaos_api, redis_server
):
    """Every 200 is a task that survives; every other answer is a clean 503."""
    accepted: list[str] = []
    answers: dict[int, int] = {}
    stop = threading.Event()

    def submitter() -> None:
        with httpx.Client(base_url=chaos_stack.base_url, headers=chaos_api.headers) as client:
            while not stop.is_set():
                reply = client.post(SUBMIT, json={"name": "race", "function_name": "noop"})
                answers[reply.status_code] = answers.get(reply.status_code, 0) + 1
                if reply.status_code == 200:
                    accepted.append(reply.json()["task_id"])

    thread = threading.Thread(target=submitter)
    thread.start()
    time.sleep(1)
    redis_server.stop()
    time.sleep(2)
    redis_server.start()
    time.sleep(2)
    stop.set()
    thread.join()
    assert set(answers) <= {200, 503}, answers
    assert answers.get(503, 0) > 0 and answers.get(200, 0) > 0
    tally = wait_all_terminal(chaos_stack, accepted, timeout_s=120)
    assert tally.missing == [] and tally.unfinished == []


def _accepts(api: httpx.Client) -> bool:
    return api.post(SUBMIT, json={"name": "probe", "function_name": "noop"}).status_code == 200


def test_a_restarted_scheduler_recounts_a_batch_whose_last_outcome_went_uncounted(
    chaos_stack, chaos_api
):
    """As if the scheduler died between writing an outcome and counting it in its batch."""
    task = {"name": "counted", "function_name": "noop"}
    batch = chaos_api.post("/api/high-scale-tasks/batch", json={"tasks": [task] * 3}).json()
    batch_url = f"/api/high-scale-tasks/batch/{batch['batch_id']}"
    _until(lambda: chaos_api.get(batch_url).json()["status"] == "completed", 30, "the batch")
    client = redis.Redis.from_url(chaos_stack.redis_url, decode_responses=True)
    keys = Keys(chaos_stack.key_prefix, 16)
    client.hset(keys.batch(batch["batch_id"]), mapping={"status": "running", "n_completed": 2})
    client.hdel(keys.batch(batch["batch_id"]), "finished_at")
    client.sadd(keys.running_batches, batch["batch_id"])
    assert chaos_api.get(batch_url).json()["unfinished"] == 1
    _kill_scheduler(chaos_stack)
    _until(lambda: chaos_api.get(batch_url).json()["status"] == "completed", 60, "a recount")
    assert chaos_api.get(batch_url).json()["completed"] == 3
