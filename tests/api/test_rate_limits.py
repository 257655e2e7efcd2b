"""Global rate limits per category, through the API (the test stack gives `metered` 2/s,
burst 5)."""

from __future__ import annotations

import time

from tests.integration.helpers import submit_batch

SUBMIT = "/api/high-scale-tasks/submit"


def _drain_metered_bucket(api):
    """Submit to `metered` until refused; returns the refusal."""
    while True:
        reply = api.post(SUBMIT, json={"name": "x", "function_name": "metered_noop"})
        if reply.status_code != 200:
            return reply


def test_a_submit_over_the_limit_gets_the_spec_429_and_a_retry_after_header(api):
    reply = _drain_metered_bucket(api)
    assert reply.status_code == 429
    body = reply.json()
    assert body["error"] == "rate_limit_exceeded"
    assert body["message"] == "Rate limit exceeded for category 'metered'"
    assert body["details"]["limit"] == 2
    assert body["details"]["current"] >= 1
    assert body["details"]["retry_after"] >= 1
    assert body["details"]["reset_time"].endswith("Z")
    assert reply.headers["Retry-After"] == str(body["details"]["retry_after"])


def test_after_retry_after_seconds_a_submit_is_admitted_again(api):
    refused = _drain_metered_bucket(api)
    time.sleep(refused.json()["details"]["retry_after"])
    again = api.post(SUBMIT, json={"name": "x", "function_name": "metered_noop"})
    assert again.status_code == 200


def test_other_categories_are_not_limited_by_a_full_one(api):
    _drain_metered_bucket(api)
    reply = api.post(SUBMIT, json={"name": "x", "function_name": "noop"})
    assert reply.status_code == 200


def test_a_batch_over_the_limit_admits_what_fits_and_lists_the_refused(api):
    _drain_metered_bucket(api)
    time.sleep(2.6)  # refills 5 tokens: the burst
    tasks = [{"name": f"t{i}", "function_name": "metered_noop"} for i in range(8)]
    tasks.append({"name": "other", "function_name": "noop"})
    batch = submit_batch(api, tasks)
    assert batch["total_submitted"] == 6
    assert batch["total_errors"] == 3
    assert [e["index"] for e in batch["errors"]] == [5, 6, 7]
    assert all(e["error"] == "rate_limit_exceeded" for e in batch["errors"])
    assert batch["errors"][0]["details"]["retry_after"] >= 1
    assert [t["name"] for t in batch["successful_tasks"]] == ["t0", "t1", "t2", "t3", "t4", "other"]
