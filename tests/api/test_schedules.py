"""/api/schedules in-process on Redis: create, read, list, change, pause, resume, delete;
the task template checked as a submit is; timing refused with the field at fault; another
principal gets 404 everywhere; the owner's cap; the next five fire times and the runs."""

from __future__ import annotations

import math
import time
from datetime import datetime, timezone

import pytest

from tests.integration.helpers import user_client
from vokaflow.domain.schedule import fire_task_id
from vokaflow.store.schedules import Fire, ScheduleStore

NOOP = {"name": "ping", "function_name": "noop"}
INTERVAL_S = 5


def create(client, **body):
    reply = client.post("/api/schedules", json={"task": NOOP, **body})
    assert reply.status_code == 201, reply.text
    return reply.json()


def test_a_cron_schedule_shows_its_next_five_fire_times_in_its_zone(api):
    made = create(
        api,
        cron="30 2 * * *",
        timezone="Europe/Madrid",
        start="2026-10-24T00:00:00Z",
        end="2027-01-01T00:00:00Z",
    )
    assert made["id"].startswith("sch_")
    assert made["task"]["function_name"] == "noop" and made["task"]["category"] == "system"
    assert made["missed_fires"] == "skip" and made["paused"] is False
    assert len(made["next_fire_times"]) == 5
    assert made["next_fire_time"] == made["next_fire_times"][0]
    assert made["runs"] == []
    shown = api.get(f"/api/schedules/{made['id']}").json()
    assert shown["next_fire_times"] == made["next_fire_times"]
    assert made["id"] in [s["id"] for s in api.get("/api/schedules").json()["schedules"]]


def test_an_interval_schedule_fires_every_n_seconds_from_now(api):
    made = create(api, interval_seconds=60)
    times = made["next_fire_times"]
    assert made["interval_seconds"] == 60 and made["cron"] is None
    assert len(times) == 5 and times == sorted(times)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"cron": "61 * * * *"}, "cron"),
        ({"cron": "every day"}, "cron"),
        ({"cron": "0 0 30 2 *"}, "cron"),  # February 30th: never fires
        ({"cron": "0 3 * * *", "timezone": "Mars/Olympus"}, "timezone"),
        ({}, "cron"),
        ({"cron": "0 3 * * *", "interval_seconds": 60}, "cron"),
        ({"interval_seconds": 1}, "interval_seconds"),
        ({"interval_seconds": True}, "interval_seconds"),
        (
            {"cron": "0 3 * * *", "start": "2030-01-02T00:00:00Z", "end": "2030-01-01T00:00:00Z"},
            "end",
        ),
        ({"cron": "0 3 * * *", "missed_fires": "all"}, "missed_fires"),
        ({"interval_seconds": 60, "start": "9999-12-31T23:59:59Z"}, "start"),
        ({"cron": "0 3 * * *", "end": "0001-01-01T00:00:00Z"}, "end"),
        ({"cron": "0 3 * * *", "colour": "red"}, "colour"),
    ],
)
def test_bad_timing_is_a_400_naming_its_field(api, body, field):
    reply = api.post("/api/schedules", json={"task": NOOP, **body})
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"] == "validation_error"
    assert reply.json()["details"]["field"] == field


@pytest.mark.parametrize(
    ("task", "field"),
    [
        ({"name": "x", "function_name": "no_such_function"}, "task.function_name"),
        ({"name": "x", "function_name": "noop", "category": "audio"}, "task.category"),
        ({"name": "x", "function_name": "noop", "priority": "SOON"}, "task.priority"),
        ({"name": "x", "function_name": "noop", "idempotency_key": "k"}, "task.idempotency_key"),
        ({"function_name": "noop"}, "task.name"),
        ({"name": "x", "function_name": "noop", "delay_seconds": 5}, "task.delay_seconds"),
        ({"name": "x", "function_name": "noop", "run_at": "2030-01-01T00:00:00Z"}, "task.run_at"),
    ],
)
def test_the_task_is_checked_as_a_submit_is(api, task, field):
    reply = api.post("/api/schedules", json={"task": task, "cron": "0 3 * * *"})
    assert reply.status_code == 400, reply.text
    assert reply.json()["details"]["field"] == field


def test_an_admin_only_function_cannot_be_scheduled_by_a_user_key(stack, api):
    task = {"name": "clean", "function_name": "cache_cleanup", "kwargs": {"dry_run": True}}
    with user_client(stack, "sched-user") as user:
        reply = user.post("/api/schedules", json={"task": task, "cron": "0 3 * * *"})
        assert reply.status_code == 400
        assert reply.json()["details"]["field"] == "task.function_name"
    assert api.post("/api/schedules", json={"task": task, "cron": "0 3 * * *"}).status_code == 201


def test_the_list_is_paged_oldest_first(stack):
    with user_client(stack, "sched-pages") as pat:
        made = [create(pat, interval_seconds=3600)["id"] for _ in range(3)]
        first = pat.get("/api/schedules", params={"limit": 2}).json()
        rest = pat.get("/api/schedules", params={"limit": 2, "offset": 2}).json()
        assert [s["id"] for s in first["schedules"] + rest["schedules"]] == made
        assert (first["count"], first["total"], first["limit"], first["offset"]) == (2, 3, 2, 0)
        assert (rest["count"], rest["total"]) == (1, 3)
        for bad in ({"limit": 0}, {"limit": 1001}, {"offset": -1}):
            reply = pat.get("/api/schedules", params=bad)
            assert reply.status_code == 400, reply.text
            assert reply.json()["details"]["field"] == next(iter(bad))


def test_another_principals_schedule_is_not_found_on_every_endpoint(stack, api):
    with user_client(stack, "sched-jo") as jo, user_client(stack, "sched-kim") as kim:
        made = create(jo, interval_seconds=3600)
        url = f"/api/schedules/{made['id']}"
        for reply in (
            kim.get(url),
            kim.patch(url, json={"interval_seconds": 600}),
            kim.post(f"{url}/pause"),
            kim.post(f"{url}/resume"),
            kim.delete(url),
            kim.get("/api/schedules/sch_missing"),
        ):
            assert reply.status_code == 404, reply.text
            assert reply.json()["error"] == "not_found"
        assert made["id"] not in [s["id"] for s in kim.get("/api/schedules").json()["schedules"]]
        assert jo.get(url).json()["interval_seconds"] == 3600, "nothing changed"
        assert api.get(url).status_code == 200, "admin keys see every schedule"


def test_pause_resume_and_patch(api):
    made = create(api, cron="0 3 * * *")
    url = f"/api/schedules/{made['id']}"
    paused = api.post(f"{url}/pause").json()
    assert paused["paused"] is True and paused["next_fire_time"] is None
    assert paused["next_fire_times"] == []
    resumed = api.post(f"{url}/resume").json()
    assert resumed["paused"] is False and resumed["next_fire_time"] == made["next_fire_time"]
    assert api.patch(url, json={"paused": True}).json()["paused"] is True
    changed = api.patch(url, json={"interval_seconds": 30, "paused": False}).json()
    assert (changed["cron"], changed["interval_seconds"], changed["paused"]) == (None, 30, False)
    task = {"name": "ping2", "function_name": "noop", "priority": "HIGH"}
    changed = api.patch(url, json={"task": task, "missed_fires": "run_latest"}).json()
    assert changed["task"]["name"] == "ping2" and changed["task"]["priority"] == "HIGH"
    assert changed["missed_fires"] == "run_latest"
    bad = api.patch(url, json={"cron": "nope"})
    assert bad.status_code == 400 and bad.json()["details"]["field"] == "cron"
    assert api.get(url).json()["interval_seconds"] == 30, "a refused change changes nothing"


def test_changing_only_the_task_keeps_a_fire_that_is_due(api):
    """A fire due but not yet claimed (the firer ticks once a second) still runs, with the
    new task; a change of timing counts the next fire from now instead."""
    first_fire = math.floor(time.time()) + 1
    start = datetime.fromtimestamp(first_fire - INTERVAL_S, timezone.utc)
    made = create(api, interval_seconds=INTERVAL_S, start=start.isoformat())
    url = f"/api/schedules/{made['id']}"
    assert _epoch(made["next_fire_time"]) == first_fire
    time.sleep(first_fire + 0.3 - time.time())  # due; no firer runs in this tier
    task = {"name": "ping2", "function_name": "noop"}
    changed = api.patch(url, json={"task": task, "missed_fires": "run_latest"}).json()
    assert changed["task"]["name"] == "ping2"
    assert _epoch(changed["next_fire_time"]) == first_fire
    retimed = api.patch(url, json={"interval_seconds": INTERVAL_S + 1}).json()
    assert _epoch(retimed["next_fire_time"]) > time.time()


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_delete(api):
    made = create(api, cron="0 3 * * *")
    url = f"/api/schedules/{made['id']}"
    assert api.delete(url).json() == {"id": made["id"], "deleted": True}
    assert api.get(url).status_code == 404
    assert api.delete(url).status_code == 404


def test_a_principal_has_at_most_its_cap_of_schedules(stack, monkeypatch):
    monkeypatch.setattr(stack.services.settings, "schedule_max_per_owner", 2)
    with user_client(stack, "sched-cap") as user:
        create(user, cron="0 3 * * *")
        second = create(user, cron="0 4 * * *")
        reply = user.post("/api/schedules", json={"task": NOOP, "cron": "0 5 * * *"})
        assert reply.status_code == 409, reply.text
        user.delete(f"/api/schedules/{second['id']}")
        create(user, cron="0 5 * * *")


def test_the_runs_show_the_latest_twenty_fires_with_their_tasks_status(stack, api):
    """A firer claims fires here (as the scheduler would) and submits them."""
    made = create(api, interval_seconds=3600)
    services = stack.services
    store = ScheduleStore(services.redis, services.keys)
    for n in range(22):
        schedule = stack.portal.call(store.get, made["id"])
        fire = schedule.next_fire
        task_id = fire_task_id(schedule.owner, schedule.schedule_id, fire)
        claimed = stack.portal.call(store.claim, schedule, fire + 3600, fire, task_id, float(fire))
        assert claimed
        if n < 21:  # the last waits (as if a rate limit held it back)
            task = schedule.task(fire, task_id, services.keys.partition(task_id), float(fire))
            stack.portal.call(services.tasks.submit, [task])
            stack.portal.call(store.submitted, Fire(schedule.schedule_id, fire))
    runs = api.get(f"/api/schedules/{made['id']}").json()["runs"]
    assert len(runs) == 20
    assert runs[0]["status"] == "waiting"
    assert {r["status"] for r in runs[1:]} == {"queued"}
    assert runs == sorted(runs, key=lambda r: r["fire_time"], reverse=True)
    status = api.get(f"/api/high-scale-tasks/status/{runs[1]['task_id']}").json()
    assert status["name"] == "ping" and status["function_name"] == "noop"


def test_the_schedule_endpoints_are_in_the_openapi_document(api):
    paths = api.get("/openapi.json").json()["paths"]
    assert {"post", "get"} <= set(paths["/api/schedules"])
    assert {"get", "patch", "delete"} <= set(paths["/api/schedules/{schedule_id}"])
    assert "post" in paths["/api/schedules/{schedule_id}/pause"]
    assert "404" in paths["/api/schedules/{schedule_id}"]["get"]["responses"]


def test_an_id_that_names_another_key_of_the_schedule_is_not_found(stack, api):
    """A schedule id is part of a Redis key name: one that reaches a schedule's runs (or any
    other key beside it) is no schedule, and answers 404 rather than a Redis type error."""
    made = create(api, interval_seconds=3600)
    store = ScheduleStore(stack.services.redis, stack.services.keys)
    schedule = stack.portal.call(store.get, made["id"])
    fire = schedule.next_fire
    task_id = fire_task_id(schedule.owner, schedule.schedule_id, fire)
    assert stack.portal.call(store.claim, schedule, fire + 3600, fire, task_id, float(fire))
    for schedule_id in (f"{made['id']}:runs", "x:y", "sch_" + "0" * 31 + "g"):
        for reply in (
            api.get(f"/api/schedules/{schedule_id}"),
            api.post(f"/api/schedules/{schedule_id}/pause"),
            api.delete(f"/api/schedules/{schedule_id}"),
        ):
            assert reply.status_code == 404, reply.text
            assert reply.json()["error"] == "not_found"
    assert api.get(f"/api/schedules/{made['id']}").status_code == 200
