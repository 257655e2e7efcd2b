"""The console as a user meets it, in a real browser on the whole stack: sign in, watch a
task finish without a reload, cancel one that runs, requeue a dead letter, and find
another tenant's work and a forged action refused. Every page passes axe-core (no serious
or critical violation), fits a phone's width, and is saved as a screenshot."""

from __future__ import annotations

import time
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.browser.conftest import Console, new_key
from tests.integration.helpers import submit, wait_until


def api_status(stack: Any, key: str, task_id: str) -> dict[str, Any]:
    reply = stack.client(api_key=key).get(f"/api/high-scale-tasks/status/{task_id}")
    body: dict[str, Any] = reply.json()
    return body


def test_a_task_reaches_completed_on_its_page_without_a_reload(stack, console: Console):
    key = new_key(stack, "browser-watcher")
    console.sign_in(key)
    task = submit(stack.client(api_key=key), "sleep", 3, name="watched in a browser")
    console.open(f"/console/tasks/{task['task_id']}")
    console.driver.execute_script("window.notReloaded = true;")
    assert console.text_of("task-status") in ("queued", "running")
    assert console.driver.find_elements(By.ID, "cancel-task")
    console.wait_for(lambda _: console.text_of("task-status") == "completed", 90)
    assert console.driver.execute_script("return window.notReloaded === true;"), "no reload"
    assert not console.driver.find_elements(By.ID, "cancel-task"), "an ended task has no Cancel"
    assert "watched in a browser" in console.driver.page_source


def test_a_running_task_is_cancelled_from_its_page(stack, console: Console):
    key = new_key(stack, "browser-canceller")
    console.sign_in(key)
    task = submit(stack.client(api_key=key), "sleep", 120, name="to cancel")
    console.open(f"/console/tasks/{task['task_id']}")
    console.wait_for(lambda _: console.text_of("task-status") == "running", 90)
    console.driver.find_element(By.ID, "cancel-task").click()
    console.wait_for(lambda _: console.text_of("task-status") == "cancelled")
    assert "The task was cancelled." in console.driver.page_source
    assert api_status(stack, key, task["task_id"])["status"] == "cancelled"


def test_a_dead_letter_is_requeued_from_its_page(stack, console: Console):
    key = new_key(stack, "browser-requeuer")
    client = stack.client(api_key=key)
    task = submit(client, "raise_error", "browser test failure", retry_count=0)
    failed = wait_until(client, task["task_id"], {"failed"})
    console.sign_in(key)
    console.open("/console/dead-letters")
    assert "browser test failure" in console.driver.page_source
    console.driver.find_element(
        By.CSS_SELECTOR, f'button[aria-label="Requeue {task["task_id"]}"]'
    ).click()
    console.wait_for(lambda d: "Requeued." in d.page_source)

    def ran_again() -> bool:
        now = api_status(stack, key, task["task_id"])
        return now["status"] != "failed" or now["completed_at"] != failed["completed_at"]

    deadline = time.time() + 60
    while not ran_again() and time.time() < deadline:
        time.sleep(0.3)
    assert ran_again(), "the requeued task was queued and ran again"


def test_another_tenant_s_task_page_is_not_found(stack, console: Console):
    owner, intruder = new_key(stack, "browser-owner"), new_key(stack, "browser-intruder")
    task = submit(stack.client(api_key=owner), "sleep", 30, priority="BACKGROUND")
    console.sign_in(intruder)
    assert console.fetch_status(f"/console/tasks/{task['task_id']}") == 404
    console.open(f"/console/tasks/{task['task_id']}")
    assert "not_found" in console.driver.page_source
    assert "not found" in console.driver.find_element(By.TAG_NAME, "h1").text
    assert not console.driver.find_elements(By.ID, "task-status"), "nothing of the task shows"


def test_an_action_without_the_csrf_token_is_refused(stack, console: Console):
    key = new_key(stack, "browser-forger")
    task = submit(stack.client(api_key=key), "sleep", 30, priority="BACKGROUND")
    console.sign_in(key)
    console.open(f"/console/tasks/{task['task_id']}")
    assert console.fetch_status(f"/console/tasks/{task['task_id']}/cancel", "POST") == 403
    assert api_status(stack, key, task["task_id"])["status"] != "cancelled"
    stack.client(api_key=key).delete(f"/api/high-scale-tasks/cancel/{task['task_id']}")


def test_the_keyboard_reaches_the_content_first(stack, console: Console):
    console.sign_in(stack.admin_key)
    console.open("/console/overview")
    body = console.driver.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.TAB)
    focused = console.driver.switch_to.active_element
    assert focused.text == "Skip to content"
    focused.send_keys(Keys.ENTER)
    assert console.driver.switch_to.active_element.get_attribute("id") == "main"


@pytest.fixture(scope="module")
def some_of_everything(stack: Any) -> dict[str, str]:
    """A task, a failed one, a workflow, a batch, a schedule and a webhook, for the tour."""
    admin = stack.client(api_key=new_key(stack, "browser-tour"))  # an admin sees its work
    done = submit(admin, "echo", "hello from the tour", name="tour task")
    failed = submit(admin, "raise_error", "tour failure", retry_count=0, name="tour failure")
    workflow = admin.post(
        "/api/workflows",
        json={
            "name": "tour",
            "tasks": [
                {"name": "extract", "function_name": "noop"},
                {"name": "left", "function_name": "noop", "depends_on": ["extract"]},
                {"name": "right", "function_name": "noop", "depends_on": ["extract"]},
                {"name": "join", "function_name": "noop", "depends_on": ["left", "right"]},
            ],
        },
    ).json()
    admin.post(
        "/api/high-scale-tasks/batch",
        json={"tasks": [{"name": f"b{i}", "function_name": "noop"} for i in range(5)]},
    )
    schedule = admin.post(
        "/api/schedules",
        json={"task": {"name": "tour tick", "function_name": "noop"}, "interval_seconds": 3600},
    ).json()
    hook = admin.post(
        "/api/webhooks/configure",
        json={
            "url": "http://127.0.0.1:9/hook",
            "events": ["task.completed"],
            "secret": "tour-secret-123",
        },
    ).json()
    wait_until(admin, done["task_id"], {"completed"})
    wait_until(admin, failed["task_id"], {"failed"})
    return {
        "task": done["task_id"],
        "workflow": workflow["workflow_id"],
        "schedule": schedule["id"],
        "webhook": hook["id"],
    }


TOUR = [
    ("overview", "/console/overview"),
    ("tasks", "/console/tasks"),
    ("task", "/console/tasks/{task}"),
    ("batches", "/console/batches"),
    ("workflow", "/console/workflows/{workflow}"),
    ("schedules", "/console/schedules"),
    ("schedule", "/console/schedules/{schedule}"),
    ("dead-letters", "/console/dead-letters"),
    ("webhooks", "/console/webhooks"),
    ("webhook", "/console/webhooks/{webhook}"),
    ("keys", "/console/keys"),
]


@pytest.mark.parametrize(("name", "path"), TOUR, ids=[name for name, _ in TOUR])
def test_every_page_is_accessible_fits_a_phone_and_is_saved(
    stack, console: Console, some_of_everything: dict[str, str], name: str, path: str
):
    console.sign_in(stack.admin_key)
    console.open(path.format(**some_of_everything))
    assert console.driver.find_element(By.TAG_NAME, "h1").text
    if name == "overview":
        console.wait_for(
            lambda d: d.find_element(By.ID, "throughput-chart").get_attribute("data-ready")
        )
    assert console.axe_violations() == []
    console.screenshots(name)
    console.driver.set_window_size(390, 844)
    try:
        assert not console.page_overflows_sideways()
        assert console.axe_violations() == [], "at a phone's width too"
    finally:
        console.driver.set_window_size(1280, 900)


def test_the_sign_in_page_is_accessible(console: Console):
    console.open("/console/sign-in")
    assert console.axe_violations() == []
    console.screenshots("sign-in")


def test_a_page_of_tasks_sorts_by_a_column_both_ways(stack, console: Console):
    key = new_key(stack, "browser-sorter")
    client = stack.client(api_key=key)
    for priority in ("LOW", "EMERGENCY", "BATCH", "HIGH"):
        submit(client, "sleep", 60, priority=priority, name=f"sorted {priority}")
    console.sign_in(key)
    console.open("/console/tasks?name=")
    header = console.driver.find_element(
        By.XPATH, "//table[@id='task-results']//th[.//button[text()='Priority']]"
    )
    header.find_element(By.TAG_NAME, "button").click()

    def shown() -> list[str]:
        cells = console.driver.find_elements(
            By.CSS_SELECTOR, "#task-results tbody tr td:nth-child(5)"
        )
        return [cell.text for cell in cells]

    assert shown() == ["EMERGENCY", "HIGH", "LOW", "BATCH"]
    assert header.get_attribute("aria-sort") == "ascending"
    header.find_element(By.TAG_NAME, "button").click()
    assert shown() == ["BATCH", "LOW", "HIGH", "EMERGENCY"]
    for row in console.driver.find_elements(
        By.CSS_SELECTOR, "#task-results tbody tr td:first-child a"
    ):
        client.delete(f"/api/high-scale-tasks/cancel/{row.text}")
