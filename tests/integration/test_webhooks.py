"""Webhooks through the real API, delivered by the dispatcher actor to a local receiver:
signed task and batch events, retries, SSRF refusals, tenancy and test pings."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests import ray_driver
from tests.integration.helpers import submit, submit_batch, user_client, wait_until
from vokaflow.config import NAMESPACE
from vokaflow.store.keys import Keys
from vokaflow.store.redis_client import connect_sync
from vokaflow.webhooks.dispatcher import DISPATCHER_NAME

SECRET = "webhook-test-secret"
ALL_TASK_EVENTS = ["task.completed", "task.failed", "task.timeout", "task.cancelled"]
OWNERS_REFRESH_S = 1.2  # emitters read the webhook owners at least this often


class Receiver:
    """Records every POST that it answers 200. A path starting with /flaky/ answers 500
    twice first; a path in ``failing`` answers 500 until it is removed, after
    ``fail_delay_s[path]`` seconds if set."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, str], bytes]] = []
        self.hits: dict[str, int] = defaultdict(int)
        self.failing: set[str] = set()
        self.fail_delay_s: dict[str, float] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    receiver.hits[self.path] += 1
                    failing = self.path in receiver.failing or (
                        self.path.startswith("/flaky/") and receiver.hits[self.path] <= 2
                    )
                    if not failing:
                        receiver.received.append((self.path, dict(self.headers), body))
                if failing:
                    time.sleep(receiver.fail_delay_s.get(self.path, 0.0))
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_for(
        self, path: str, matches: Callable[[dict[str, Any]], bool], timeout_s: float = 60.0
    ) -> tuple[dict[str, str], bytes]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                for got_path, headers, body in self.received:
                    if got_path == path and matches(json.loads(body)):
                        return headers, body
            time.sleep(0.1)
        raise AssertionError(f"nothing matching arrived at {path}: {self.at(path)}")

    def at(self, path: str) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(body) for p, _, body in self.received if p == path]


def readme_check(body: bytes, headers: dict[str, str], secret: str) -> bool:
    """The six lines of README.md, "Webhooks"."""
    timestamp = headers["X-VokaFlow-Timestamp"]
    if abs(time.time() - int(timestamp)) > 300:
        return False
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    expected = "sha256=" + mac.hexdigest()
    return hmac.compare_digest(expected, headers["X-VokaFlow-Signature"])


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


def _user(stack, name: str):
    return user_client(stack, f"{name}-{uuid.uuid4().hex[:6]}")


@pytest.fixture
def ann(stack, api) -> Iterator[Any]:
    """A user of their own; their webhooks are deleted afterwards."""
    with _user(stack, "ann") as client:
        yield client
        for hook in client.get("/api/webhooks").json()["webhooks"]:
            client.delete(f"/api/webhooks/{hook['id']}")


def configure(client, url: str, events: list[str], wait: bool = True) -> dict[str, Any]:
    reply = client.post(
        "/api/webhooks/configure", json={"url": url, "events": events, "secret": SECRET}
    )
    assert reply.status_code == 201, reply.text
    if wait:
        time.sleep(OWNERS_REFRESH_S)
    hook: dict[str, Any] = reply.json()
    return hook


def _is(event: str, key: str, subject_id: str) -> Callable[[dict[str, Any]], bool]:
    return lambda body: body["event"] == event and body["data"].get(key) == subject_id


def test_a_completed_task_is_delivered_signed_as_the_readme_shows(ann, receiver):
    hook = configure(ann, receiver.url("/ok/completed"), ALL_TASK_EVENTS)
    assert set(hook) == {"id", "url", "events", "owner", "created_at", "active"}
    task = submit(ann, "statistical_summary", [1, 2, 3, 4])
    headers, body = receiver.wait_for(
        "/ok/completed", _is("task.completed", "task_id", task["task_id"])
    )
    assert readme_check(body, headers, SECRET)
    assert not readme_check(body + b" ", headers, SECRET)
    assert headers["X-VokaFlow-Event"] == "task.completed" and headers["X-VokaFlow-Delivery"]
    sent = json.loads(body)
    assert list(sent) == ["event", "timestamp", "data", "signature"]
    data = sent["data"]
    assert set(data) == {"task_id", "name", "status", "result", "execution_time", "completed_at"}
    assert (data["status"], data["name"]) == ("completed", "statistical_summary")
    assert data["result"] == wait_until(ann, task["task_id"])["result"]
    assert data["execution_time"] >= 0 and data["completed_at"]
    claimed = sent.pop("signature")
    unsigned = json.dumps(sent, separators=(",", ":")).encode()
    mac = hmac.new(
        SECRET.encode(), f"{headers['X-VokaFlow-Timestamp']}.".encode() + unsigned, hashlib.sha256
    )
    assert claimed == "sha256=" + mac.hexdigest()


def test_failed_timed_out_and_cancelled_tasks_are_delivered_with_their_event(ann, receiver):
    configure(ann, receiver.url("/ok/ends"), ALL_TASK_EVENTS)
    failing = submit(ann, "raise_error", "boom", retry_count=0)
    slow = submit(ann, "sleep", 10, timeout=1, retry_count=0)
    cancelled = submit(ann, "sleep", 30, retry_count=0)
    wait_until(ann, cancelled["task_id"], {"running", "queued"})
    assert ann.delete(f"/api/high-scale-tasks/cancel/{cancelled['task_id']}").status_code == 200
    _, body = receiver.wait_for("/ok/ends", _is("task.failed", "task_id", failing["task_id"]))
    assert json.loads(body)["data"]["error"]["message"] == "boom"
    _, body = receiver.wait_for("/ok/ends", _is("task.timeout", "task_id", slow["task_id"]))
    assert json.loads(body)["data"]["status"] == "timeout" and json.loads(body)["data"]["error"]
    receiver.wait_for("/ok/ends", _is("task.cancelled", "task_id", cancelled["task_id"]))


def test_a_cancelled_running_task_and_a_timed_out_one_show_alike_in_logs_stats_and_webhooks(
    ann, receiver
):
    """The API's cancel and the scheduler's timeout end a task through one owner."""
    configure(ann, receiver.url("/ok/alike"), ["task.timeout", "task.cancelled"])
    slow = submit(ann, "sleep", 10, timeout=1, retry_count=0)
    cancelled = submit(ann, "sleep", 30, retry_count=0)
    wait_until(ann, cancelled["task_id"], {"running"})
    assert ann.delete(f"/api/high-scale-tasks/cancel/{cancelled['task_id']}").status_code == 200
    receiver.wait_for("/ok/alike", _is("task.cancelled", "task_id", cancelled["task_id"]))
    receiver.wait_for("/ok/alike", _is("task.timeout", "task_id", slow["task_id"]))

    entries = ann.get("/api/logs", params={"level": "WARNING"}).json()["entries"]
    logged = {(e["task_id"], e["event"]) for e in entries}
    assert {(cancelled["task_id"], "task.cancelled"), (slow["task_id"], "task.timeout")} <= logged
    category = wait_until(ann, slow["task_id"])["category"]
    counts = ann.get(f"/api/metrics/category/{category}").json()["tasks"]
    assert (counts["cancelled"], counts["timeout"]) == (1, 1), "a new user's own counts"


def test_a_finished_batch_is_delivered_once_and_unwanted_events_are_not(ann, receiver):
    configure(ann, receiver.url("/ok/batch"), ["batch.completed"])
    batch = submit_batch(
        ann, [{"name": f"t{i}", "function_name": "health_check"} for i in range(3)]
    )
    _, body = receiver.wait_for("/ok/batch", _is("batch.completed", "batch_id", batch["batch_id"]))
    data = json.loads(body)["data"]
    assert (data["status"], data["total"], data["completed"], data["failed"]) == (
        "completed",
        3,
        3,
        0,
    )
    time.sleep(1.0)
    assert [b["event"] for b in receiver.at("/ok/batch")] == ["batch.completed"]


def test_a_receiver_failing_twice_gets_three_attempts_all_recorded(ann, receiver):
    path = f"/flaky/{uuid.uuid4().hex}"
    hook = configure(ann, receiver.url(path), ["task.completed"])
    task = submit(ann, "health_check")
    receiver.wait_for(path, _is("task.completed", "task_id", task["task_id"]))
    deadline = time.monotonic() + 10
    while True:
        reply = ann.get(f"/api/webhooks/{hook['id']}/deliveries")
        assert reply.status_code == 200, reply.text
        attempts = [d for d in reply.json()["deliveries"] if d["subject_id"] == task["task_id"]]
        if any(a["outcome"] == "delivered" for a in attempts) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    attempts.reverse()  # newest first -> oldest first
    assert [(a["attempt"], a["status_code"], a["outcome"]) for a in attempts] == [
        (1, 500, "retrying"),
        (2, 500, "retrying"),
        (3, 200, "delivered"),
    ]
    assert len({a["delivery_id"] for a in attempts}) == 1
    assert all(a["event"] == "task.completed" and a["duration_s"] >= 0 for a in attempts)
    assert receiver.hits[path] == 3


def _attempts_of(client, hook_id: str, subject_id: str) -> list[dict[str, Any]]:
    reply = client.get(f"/api/webhooks/{hook_id}/deliveries")
    assert reply.status_code == 200, reply.text
    return [d for d in reply.json()["deliveries"] if d["subject_id"] == subject_id]


def test_an_event_read_by_a_killed_dispatcher_is_delivered_by_its_restart(stack, ann, receiver):
    path = f"/down/{uuid.uuid4().hex}"
    receiver.failing.add(path)
    # slow failures keep the first dispatcher from spending its attempts (and dropping the
    # event) before the kill lands, however long starting the killing driver takes
    receiver.fail_delay_s[path] = 2.0
    hook = configure(ann, receiver.url(path), ["task.completed"])
    task = submit(ann, "health_check")
    deadline = time.monotonic() + 30
    # the first attempt has reached the receiver and been recorded, so the test does
    # not depend on whether the kill lands before or after the record is written
    while not _attempts_of(ann, hook["id"], task["task_id"]):
        assert time.monotonic() < deadline, "no first attempt"
        time.sleep(0.02)
    dispatcher = {"name": DISPATCHER_NAME, "namespace": NAMESPACE}
    ray_driver.call(stack.ray_address, "kill_actor", **dispatcher, restart=True)
    # the restarted dispatcher counts its attempts from 1 again: its first one, recorded,
    # shows it read the event again; only then may the receiver answer
    deadline = time.monotonic() + 90
    while sum(a["attempt"] == 1 for a in _attempts_of(ann, hook["id"], task["task_id"])) < 2:
        assert time.monotonic() < deadline, "the restart did not read the event again"
        time.sleep(0.05)
    receiver.failing.discard(path)
    headers, _ = receiver.wait_for(path, _is("task.completed", "task_id", task["task_id"]))
    deadline = time.monotonic() + 10
    while not any(
        a["outcome"] == "delivered" for a in _attempts_of(ann, hook["id"], task["task_id"])
    ):
        assert time.monotonic() < deadline, "the delivery was not recorded"
        time.sleep(0.1)
    attempts = _attempts_of(ann, hook["id"], task["task_id"])
    assert sum(a["attempt"] == 1 for a in attempts) >= 2, "the restart did not read it again"
    assert {a["delivery_id"] for a in attempts} == {headers["X-VokaFlow-Delivery"]}


def test_unknown_events_and_short_secrets_are_refused(api, receiver):
    url = receiver.url("/ok/never")
    for body, field in (
        ({"url": url, "events": ["task.started"], "secret": SECRET}, "events"),
        ({"url": url, "events": ["task.completed"], "secret": "short"}, "secret"),
        ({"url": url, "events": [], "secret": SECRET}, "events"),
    ):
        reply = api.post("/api/webhooks/configure", json=body)
        assert reply.status_code == 400, reply.text
        assert reply.json()["details"]["field"].startswith(field)


def test_another_principals_webhook_is_not_found_and_admins_see_all(stack, api, ann, receiver):
    hook = configure(ann, receiver.url("/ok/tenancy"), ["task.completed"], wait=False)
    with _user(stack, "bob") as bob:
        base = f"/api/webhooks/{hook['id']}"
        assert bob.get(f"{base}/deliveries").status_code == 404
        assert bob.post(f"{base}/test").status_code == 404
        assert bob.delete(base).status_code == 404
        assert bob.delete("/api/webhooks/wh_missing").status_code == 404
        assert hook["id"] not in [w["id"] for w in bob.get("/api/webhooks").json()["webhooks"]]
    assert hook["id"] in [w["id"] for w in api.get("/api/webhooks").json()["webhooks"]]
    assert api.get(f"{base}/deliveries").status_code == 200
    assert ann.get(f"{base}/deliveries").status_code == 200


def test_webhooks_are_listed_without_secrets_and_deleted(stack, ann, receiver):
    first = configure(ann, receiver.url("/ok/one"), ["task.completed"], wait=False)
    second = configure(ann, receiver.url("/ok/two"), ["batch.completed"], wait=False)
    listed = ann.get("/api/webhooks")
    assert listed.status_code == 200 and SECRET not in listed.text
    assert [w["id"] for w in listed.json()["webhooks"]] == [first["id"], second["id"]]
    owner = first["owner"]
    redis = connect_sync(stack.redis_url, decode_responses=True)
    keys = Keys(stack.key_prefix, 16)
    assert redis.sismember(keys.webhook_owners, owner)
    assert ann.delete(f"/api/webhooks/{first['id']}").json() == {"id": first["id"], "deleted": True}
    assert ann.delete(f"/api/webhooks/{first['id']}").status_code == 404
    assert [w["id"] for w in ann.get("/api/webhooks").json()["webhooks"]] == [second["id"]]
    assert redis.sismember(keys.webhook_owners, owner)
    assert ann.delete(f"/api/webhooks/{second['id']}").status_code == 200
    assert not redis.sismember(keys.webhook_owners, owner)


def test_a_test_ping_is_signed_delivered_and_recorded(ann, receiver):
    hook = configure(ann, receiver.url("/ok/ping"), ["task.completed"], wait=False)
    reply = ann.post(f"/api/webhooks/{hook['id']}/test")
    assert reply.status_code == 200, reply.text
    attempt = reply.json()
    assert (attempt["outcome"], attempt["status_code"], attempt["event"]) == (
        "delivered",
        200,
        "webhook.test",
    )
    headers, body = receiver.wait_for("/ok/ping", lambda b: b["event"] == "webhook.test")
    assert readme_check(body, headers, SECRET)
    assert headers["X-VokaFlow-Delivery"] == attempt["delivery_id"]
    deliveries = ann.get(f"/api/webhooks/{hook['id']}/deliveries").json()["deliveries"]
    assert deliveries[0]["delivery_id"] == attempt["delivery_id"]


def test_a_failed_delivery_is_redelivered_with_its_id_and_body(stack, ann, receiver):
    receiver.failing.add("/redeliver")
    hook = configure(ann, receiver.url("/redeliver"), ["task.completed"])
    task = submit(ann, "statistical_summary", [1, 2, 3])
    wait_until(ann, task["task_id"])

    def failed_attempts() -> list[dict[str, Any]]:
        found = ann.get(f"/api/webhooks/{hook['id']}/deliveries").json()["deliveries"]
        return [d for d in found if d["subject_id"] == task["task_id"] and d["outcome"] == "failed"]

    deadline = time.monotonic() + 60
    while not failed_attempts() and time.monotonic() < deadline:
        time.sleep(0.2)
    (gave_up,) = failed_attempts()
    receiver.failing.discard("/redeliver")
    url = f"/api/webhooks/{hook['id']}/deliveries/{gave_up['delivery_id']}/redeliver"
    with user_client(stack, f"other-{uuid.uuid4().hex[:6]}") as other:
        assert other.post(url).status_code == 404
    again = ann.post(url)
    assert again.status_code == 200, again.text
    assert (again.json()["outcome"], again.json()["status_code"]) == ("delivered", 200)
    headers, body = receiver.wait_for(
        "/redeliver", _is("task.completed", "task_id", task["task_id"])
    )
    assert headers["X-VokaFlow-Delivery"] == gave_up["delivery_id"]
    assert readme_check(body, headers, SECRET)
    assert json.loads(body)["data"]["status"] == "completed"
    missing = ann.post(f"/api/webhooks/{hook['id']}/deliveries/no-such-delivery/redeliver")
    assert missing.status_code == 404


def test_a_test_ping_to_a_closed_port_reports_the_error(ann, receiver):
    hook = configure(ann, "http://127.0.0.1:1/closed", ["task.completed"], wait=False)
    attempt = ann.post(f"/api/webhooks/{hook['id']}/test").json()
    assert attempt["outcome"] == "failed" and attempt["status_code"] is None
    assert attempt["error"]


def test_a_principal_at_its_webhook_limit_gets_409_until_it_deletes_one(ann, receiver):
    hooks = [configure(ann, receiver.url("/limit"), ["task.completed"], wait=False)]
    while len(hooks) < 5:  # the test stack's VOKAFLOW_WEBHOOK_MAX_PER_OWNER
        hooks.append(configure(ann, receiver.url("/limit"), ["task.completed"], wait=False))
    body = {"url": receiver.url("/limit"), "events": ["task.failed"], "secret": SECRET}
    refused = ann.post("/api/webhooks/configure", json=body)
    assert refused.status_code == 409 and refused.json()["error"] == "conflict"
    assert ann.delete(f"/api/webhooks/{hooks[0]['id']}").status_code == 200
    assert ann.post("/api/webhooks/configure", json=body).status_code == 201
