"""deployments/grafana/vokaflow.json queries only metrics the service exports: the stack is
made to record every kind (outcomes, an SLA miss, a refusal, a failed webhook attempt),
then Ray's exporter is scraped until each name the dashboard uses is there."""

from __future__ import annotations

import os
import time
from typing import Any

import httpx

from tests.grafana_dashboard import dashboard_metric_names, load_dashboard, scraped_names
from tests.integration.helpers import submit, user_client, wait_until

EXPORT_PORT = os.environ.get("VOKAFLOW_TEST_METRICS_PORT", "8781")
EXPORT_WAIT_S = 90  # Ray's agent exports what a process recorded some seconds later
OWNERS_REFRESH_S = 1.2  # emitters read the webhook owners at least this often
CLOSED_PORT_URL = "http://127.0.0.1:1/grafana"


def test_every_metric_the_dashboard_queries_is_exported_by_the_service(stack, api):
    wanted = dashboard_metric_names(load_dashboard())
    with user_client(stack, "grafana-webhooks") as owner:
        hook = _webhook_to_a_closed_port(owner)
        try:
            _run_a_task_whose_webhook_fails(owner)
            _miss_an_sla_and_cancel_a_queued_task(api)
            _fail_a_task_and_be_refused_by_a_rate_limit(api)
            names = _scrape_until(wanted)
        finally:
            owner.delete(f"/api/webhooks/{hook['id']}")
    assert wanted <= names, f"not exported: {sorted(wanted - names)}"


def _webhook_to_a_closed_port(owner: httpx.Client) -> dict[str, Any]:
    body = {"url": CLOSED_PORT_URL, "events": ["task.completed"], "secret": "grafana-secret"}
    reply = owner.post("/api/webhooks/configure", json=body)
    assert reply.status_code == 201, reply.text
    time.sleep(OWNERS_REFRESH_S)
    hook: dict[str, Any] = reply.json()
    return hook


def _run_a_task_whose_webhook_fails(owner: httpx.Client) -> None:
    assert wait_until(owner, submit(owner, "noop")["task_id"])["status"] == "completed"


def _miss_an_sla_and_cancel_a_queued_task(api: httpx.Client) -> None:
    """MEMORY_INTENSIVE has one slot: an EMERGENCY task behind a running one waits past its
    0.1 s SLA; the one queued after it is cancelled."""
    blocker = submit(api, "sleep", 1, worker_type="MEMORY_INTENSIVE")
    wait_until(api, blocker["task_id"], {"running"})
    late = submit(api, "noop", priority="EMERGENCY", worker_type="MEMORY_INTENSIVE")
    cancelled = submit(api, "noop", priority="BATCH", worker_type="MEMORY_INTENSIVE")
    assert api.delete(f"/api/high-scale-tasks/cancel/{cancelled['task_id']}").status_code == 200
    assert wait_until(api, late["task_id"])["status"] == "completed"


def _fail_a_task_and_be_refused_by_a_rate_limit(api: httpx.Client) -> None:
    """The test stack limits `metered` to 2 tasks a second with a burst of 5."""
    failing = submit(api, "metered_fail", "for the dashboard", retry_count=0)
    body = {"name": "x", "function_name": "metered_noop"}
    replies = [api.post("/api/high-scale-tasks/submit", json=body) for _ in range(10)]
    assert any(reply.status_code == 429 for reply in replies)
    assert wait_until(api, failing["task_id"])["status"] == "failed"


def _scrape_until(wanted: set[str]) -> set[str]:
    """The names Ray's exporter serves, once it has all of ``wanted`` or at the deadline."""
    deadline = time.monotonic() + EXPORT_WAIT_S
    while True:
        names = _scrape()
        if wanted <= names or time.monotonic() > deadline:
            return names
        time.sleep(2)


def _scrape() -> set[str]:
    try:
        reply = httpx.get(f"http://127.0.0.1:{EXPORT_PORT}/metrics", timeout=5)
    except httpx.HTTPError:
        return set()
    return scraped_names(reply.text)
