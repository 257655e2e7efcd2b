"""Fair share within a level and per-key concurrency, end to end on the real stack."""

from __future__ import annotations

from datetime import datetime

from tests.integration.helpers import submit, submit_batch, user_client, wait_until

SOLE_SLOT = "MEMORY_INTENSIVE"  # one worker on the test stack


def test_a_tenant_s_tasks_do_not_wait_behind_another_tenant_s_backlog_of_the_same_level(stack):
    with user_client(stack, "fair-a") as a, user_client(stack, "fair-b") as b:
        backlog = [
            {"name": "a", "function_name": "sleep", "args": [0.5], "priority": "BATCH"}
        ] * 30  # 15 s or more on the one slot (few long sleeps: the session's mean run of
        # sleep, which other tests' estimates read, stays far above a no-op's)
        a_batch = submit_batch(
            a, [{**t, "worker_type": SOLE_SLOT} for t in backlog], batch_timeout=40
        )
        b_tasks = [
            submit(b, "noop", name="b", priority="BATCH", worker_type=SOLE_SLOT) for _ in range(3)
        ]

        for task in b_tasks:
            assert wait_until(b, task["task_id"], timeout_s=30)["status"] == "completed"
        left = a.get(f"/api/high-scale-tasks/batch/{a_batch['batch_id']}").json()["unfinished"]
        assert left > 15, f"b waited for a's backlog: {left} of a's 30 left when b was done"


def _spans(finished: list[dict]) -> list[tuple[datetime, datetime]]:
    return [
        (datetime.fromisoformat(t["started_at"]), datetime.fromisoformat(t["completed_at"]))
        for t in finished
    ]


def _most_at_once(spans: list[tuple[datetime, datetime]]) -> int:
    return max(sum(s <= moment < e for s, e in spans) for moment, _ in spans)


def test_at_most_max_concurrency_tasks_of_a_key_run_at_once(api):
    # The IO pool runs 2 tasks at once on the test stack (its autoscaling floor): an
    # uncapped task runs beside a capped one, two capped ones never run together.
    io = {"worker_type": "IO_INTENSIVE"}
    capped = [
        submit(api, "sleep", 0.6, concurrency_key="nightly-report", max_concurrency=1, **io)
        for _ in range(4)
    ]
    free = [submit(api, "sleep", 0.6, **io) for _ in range(4)]
    capped_done = [wait_until(api, t["task_id"], timeout_s=60) for t in capped]
    free_done = [wait_until(api, t["task_id"], timeout_s=60) for t in free]

    assert all(t["status"] == "completed" for t in [*capped_done, *free_done])
    assert _most_at_once(_spans(capped_done)) == 1
    everything = _spans([*capped_done, *free_done])
    assert _most_at_once(everything) >= 2, "the pool ran one at a time: nothing shown"


def test_a_key_s_waiting_tasks_keep_their_order(api):
    chain = [
        submit(api, "sleep", 0.2, name=f"step-{i}", concurrency_key="serial", max_concurrency=1)
        for i in range(4)
    ]
    finished = [wait_until(api, t["task_id"], timeout_s=60) for t in chain]

    starts = [datetime.fromisoformat(t["started_at"]) for t in finished]
    assert starts == sorted(starts)
    spans = _spans(finished)
    assert all(spans[i][1] <= spans[i + 1][0] for i in range(3))
