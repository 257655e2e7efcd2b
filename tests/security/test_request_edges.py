"""The low findings at the HTTP edge: the auth-failure limit cannot be dodged with a forged
X-Forwarded-For, a chunked oversize body is 413, a batch task with invalid Unicode is a
400 (never a 500, nothing written), and a big batch does not stall the gateway."""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid

import httpx

from tests.integration.helpers import wait_out_the_auth_failure_window

BATCH = "/api/high-scale-tasks/batch"


def test_a_client_cannot_choose_its_auth_failure_counter(stack):
    wait_out_the_auth_failure_window()
    with stack.client(api_key="") as attacker:
        codes = []
        for n in range(120):  # the test stack's limit is 50 failures a window
            forged = {"X-API-Key": "vf_guess", "X-Forwarded-For": f"198.51.100.{n % 250}"}
            codes.append(
                attacker.get("/api/high-scale-tasks/priorities", headers=forged).status_code
            )
            if codes[-1] == 429:
                break
    assert codes[-1] == 429, "a new X-Forwarded-For each time dodged the limit"
    wait_out_the_auth_failure_window()


def test_an_oversize_body_sent_in_chunks_is_413(stack, tenant):
    client = tenant()

    def chunks():
        for _ in range(300):  # 1.2 MB over the test stack's 1 MB limit, no Content-Length
            yield b" " * 4096

    reply = client.post(
        "/api/high-scale-tasks/submit",
        content=chunks(),
        headers={"Content-Type": "application/json"},
    )
    assert reply.status_code == 413, reply.text
    assert reply.json()["error"] == "payload_too_large"


def test_a_batch_task_named_with_a_lone_surrogate_is_a_400_and_writes_nothing(stack, tenant):
    client = tenant()
    key = f"surrogate-{uuid.uuid4()}"
    tasks = [
        {"name": "ok", "function_name": "noop"},
        {"name": "bad \ud800", "function_name": "noop"},
    ]
    raw = json.dumps({"idempotency_key": key, "tasks": tasks})  # JSON may spell a lone one
    for _ in range(2):  # the replay too
        reply = client.post(BATCH, content=raw, headers={"Content-Type": "application/json"})
        assert reply.status_code == 400, reply.text
        assert reply.json()["details"]["field"] == "tasks[1].name"
    fixed = raw.replace("\\ud800", "fine")
    accepted = client.post(BATCH, content=fixed, headers={"Content-Type": "application/json"})
    assert accepted.status_code == 200 and accepted.json()["total_submitted"] == 2


def test_a_big_batch_leaves_the_gateway_answering_meanwhile(stack, tenant):
    """Validating a batch near the 1 MB limit takes a good part of a second: health checks
    sent back to back meanwhile must keep being answered, not wait for all of it."""
    client = tenant()
    # each refused at its category after the costly checks: no rate-limit token is spent
    tasks = [{"name": "t", "function_name": "noop", "category": "ml"}] * 15_000
    done = threading.Event()
    answered: list[float] = []

    def probe() -> None:
        with httpx.Client(base_url=stack.base_url, timeout=30) as health:
            while not done.is_set():
                health.get("/api/health/")
                answered.append(time.monotonic())

    prober = threading.Thread(target=probe)
    prober.start()
    time.sleep(0.3)
    started = time.monotonic()
    reply = client.post(BATCH, json={"tasks": tasks}, timeout=120)
    ended = time.monotonic()
    done.set()
    prober.join()
    assert reply.status_code == 200, reply.text
    during = [started, *(t for t in answered if started < t < ended), ended]
    longest_wait = max(b - a for a, b in itertools.pairwise(during))
    assert longest_wait < (ended - started) / 2, (longest_wait, ended - started)
