"""The console in-process: sign-in and its cookie, CSRF on every action, a tenant's view
exactly as the API's (404 for another's work), revocation and sign-out, and each page.

The scheduler's part (claiming a task, writing its outcome) is played by the test through
the same store and lifecycle calls the scheduler makes, so pages show real states."""

from __future__ import annotations

import hashlib
import html
import re
import time
from typing import Any

import jwt
import pytest

from tests.conftest import JWT_CLAIMS
from tests.integration.helpers import submit
from vokaflow.api.console.streams import LOG_STREAMS
from vokaflow.domain import TaskStatus, WorkerType
from vokaflow.domain.task import Outcome
from vokaflow.store.dispatch_store import ClaimRequest

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SIGN_IN_TOKEN = re.compile(r'name="sign_in_token" value="([^"]+)"')


def new_key(stack: Any, name: str, *extra: str) -> str:
    return str(stack.cli("keys", "create", "--name", name, *extra).stdout.strip().splitlines()[-1])


def signed_in(stack: Any, credential: str) -> Any:
    """A browser-like client (no API key header) signed in to the console."""
    browser = stack.client(api_key="", follow_redirects=False)
    form = browser.get("/console/sign-in")
    token = SIGN_IN_TOKEN.search(form.text).group(1)
    reply = browser.post(
        "/console/sign-in",
        data={"credential": credential, "sign_in_token": token, "next": ""},
    )
    assert reply.status_code == 303, reply.text
    return browser


def csrf_of(browser: Any, path: str = "/console/overview") -> str:
    return CSRF.search(browser.get(path).text).group(1)


def play_scheduler(stack: Any, task_id: str, status: TaskStatus | None, **outcome: Any) -> None:
    """Claim the task as the dispatcher would; with a status, also write its outcome as the
    settler would (``None`` leaves it running). Submit it as EMERGENCY, so that it is the
    first its partition's claim takes: a test that leaves an EMERGENCY task queued (a
    requeued dead letter) cancels it."""
    services = stack.services
    record = stack.portal.call(services.tasks.get, task_id)
    request = ClaimRequest(
        WorkerType(record["worker_type"]),
        services.keys.partition(task_id),
        float(record["score"]),
        1,
    )
    (claimed,) = stack.portal.call(services.dispatch.claim, [request], time.time())
    assert claimed.task_id == task_id
    if status is None:
        return
    now = time.time()
    # no function name: the run is not counted in the function's mean run time, which other
    # tests of this tier's shared Redis read as the estimate of a task's start
    result = Outcome(task_id, claimed.attempt, status, now - 0.2, now, **outcome)
    stack.portal.call(services.ending.finish, [claimed], [result], [])


def urgent(client: Any, function_name: str = "noop", *args: Any, **fields: Any) -> dict[str, Any]:
    return submit(client, function_name, *args, priority="EMERGENCY", **fields)


def test_a_page_sends_a_signed_out_browser_to_sign_in_and_back(stack):
    browser = stack.client(api_key="", follow_redirects=False)
    reply = browser.get("/console/tasks?status=failed")
    assert reply.status_code == 303
    assert reply.headers["location"] == "/console/sign-in?next=/console/tasks%3Fstatus%3Dfailed"
    form = browser.get(reply.headers["location"])
    token = SIGN_IN_TOKEN.search(form.text).group(1)
    signed = browser.post(
        "/console/sign-in",
        data={
            "credential": stack.admin_key,
            "sign_in_token": token,
            "next": "/console/tasks?status=failed",
        },
    )
    assert signed.headers["location"] == "/console/tasks?status=failed"


def test_a_signed_out_background_request_gets_401_not_the_sign_in_page(stack):
    """The chart's fetch or a log stream of a signed-out tab must not load the sign-in page:
    its new sign-in cookie would void the form the user is filling in."""
    browser = stack.client(api_key="", follow_redirects=False)
    for path in ("/console/overview/throughput.json", "/console/tasks/x/logs/stream"):
        reply = browser.get(path, headers={"Sec-Fetch-Mode": "cors"})
        assert reply.status_code == 401, path
        assert "set-cookie" not in reply.headers
    page = browser.get("/console/overview", headers={"Sec-Fetch-Mode": "navigate"})
    assert page.status_code == 303 and page.headers["location"].startswith("/console/sign-in")


def test_two_sign_in_forms_open_at_once_share_one_token(stack):
    browser = stack.client(api_key="", follow_redirects=False)
    first = SIGN_IN_TOKEN.search(browser.get("/console/sign-in").text).group(1)
    second = SIGN_IN_TOKEN.search(browser.get("/console/sign-in").text).group(1)
    assert first == second
    reply = browser.post(
        "/console/sign-in", data={"credential": stack.admin_key, "sign_in_token": first}
    )
    assert reply.status_code == 303, reply.text
    again = stack.client(api_key="", follow_redirects=False)
    assert SIGN_IN_TOKEN.search(again.get("/console/sign-in").text).group(1) != first


def test_the_session_cookie_is_http_only_strict_and_holds_no_key(stack):
    browser = stack.client(api_key="", follow_redirects=False)
    token = SIGN_IN_TOKEN.search(browser.get("/console/sign-in").text).group(1)
    reply = browser.post(
        "/console/sign-in", data={"credential": stack.admin_key, "sign_in_token": token}
    )
    cookie = next(
        v
        for k, v in reply.headers.multi_items()
        if k == "set-cookie" and v.startswith("vokaflow_console=")
    )
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie, "plain HTTP: a Secure cookie would never come back"
    assert stack.admin_key not in cookie
    stored = stack.portal.call(stack.services.redis.keys, f"{stack.key_prefix}:console:session:*")
    assert stored and all(
        stack.admin_key not in str(stack.portal.call(stack.services.redis.hgetall, k))
        for k in stored
    )


def test_the_cookie_is_secure_behind_https(stack):
    browser = stack.client(api_key="", follow_redirects=False, base_url="https://testserver")
    reply = browser.get("/console/sign-in")
    assert "Secure" in reply.headers["set-cookie"]


def test_a_wrong_key_is_refused_and_counted_like_the_api(stack):
    browser = stack.client(api_key="", follow_redirects=False)
    token = SIGN_IN_TOKEN.search(browser.get("/console/sign-in").text).group(1)
    reply = browser.post(
        "/console/sign-in", data={"credential": "vk_wrong", "sign_in_token": token}
    )
    assert reply.status_code == 401
    assert "not valid" in reply.text
    assert "vokaflow_console=" not in reply.headers.get("set-cookie", "")


def test_sign_in_without_the_form_s_token_is_refused(stack):
    """Another site cannot post a sign-in: it cannot read the form's token."""
    browser = stack.client(api_key="", follow_redirects=False)
    reply = browser.post(
        "/console/sign-in", data={"credential": stack.admin_key, "sign_in_token": "guess"}
    )
    assert reply.status_code == 403
    assert "csrf_failed" in reply.text


def test_sign_in_never_sends_the_browser_to_another_site(stack):
    browser = stack.client(api_key="", follow_redirects=False)
    for target in ("https://evil.example/", "//evil.example/console/", "/api/health"):
        token = SIGN_IN_TOKEN.search(browser.get("/console/sign-in").text).group(1)
        reply = browser.post(
            "/console/sign-in",
            data={"credential": stack.admin_key, "sign_in_token": token, "next": target},
        )
        assert reply.headers["location"] == "/console/overview", target


def test_an_action_without_the_csrf_token_is_refused_and_changes_nothing(stack):
    owner = new_key(stack, "csrf-owner")
    browser = signed_in(stack, owner)
    task = submit(stack.client(api_key=owner), "sleep", 30, priority="LOW")
    url = f"/console/tasks/{task['task_id']}/cancel"
    for sent in ({}, {"csrf_token": "forged"}):
        reply = browser.post(url, data=sent)
        assert reply.status_code == 403 and "csrf_failed" in reply.text
    status = stack.client(api_key=owner).get(f"/api/high-scale-tasks/status/{task['task_id']}")
    assert status.json()["status"] == "queued"
    reply = browser.post(url, data={"csrf_token": csrf_of(browser)})
    assert reply.status_code == 303
    status = stack.client(api_key=owner).get(f"/api/high-scale-tasks/status/{task['task_id']}")
    assert status.json()["status"] == "cancelled"


def test_another_tenant_s_task_page_and_actions_are_not_found(stack):
    owner, other = new_key(stack, "page-owner"), new_key(stack, "page-other")
    task = submit(stack.client(api_key=owner), "sleep", 30, priority="LOW")
    intruder = signed_in(stack, other)
    token = csrf_of(intruder)
    base = f"/console/tasks/{task['task_id']}"
    assert intruder.get(base).status_code == 404
    assert intruder.get(base + "/panel").status_code == 404
    assert intruder.get(base + "/logs/stream").status_code == 404
    assert intruder.post(base + "/cancel", data={"csrf_token": token}).status_code == 404
    assert intruder.post(base + "/rerun", data={"csrf_token": token}).status_code == 404
    missing = intruder.get("/console/tasks/no-such-task")
    assert missing.status_code == 404
    assert signed_in(stack, owner).get(base).status_code == 200
    assert signed_in(stack, stack.admin_key).get(base).status_code == 200


def test_a_revoked_key_s_session_ends_within_the_key_cache_time(stack):
    key = new_key(stack, "soon-revoked")
    browser = signed_in(stack, key)
    assert browser.get("/console/overview").status_code == 200
    key_id = next(
        line.split()[0]
        for line in stack.cli("keys", "list").stdout.splitlines()
        if "soon-revoked" in line
    )
    stack.cli("keys", "revoke", key_id)
    time.sleep(0.6)  # VOKAFLOW_API_KEY_CACHE_S is 0.5 s in this tier
    reply = browser.get("/console/overview")
    assert reply.status_code == 303 and reply.headers["location"].startswith("/console/sign-in")


def test_signing_out_ends_the_session(stack):
    browser = signed_in(stack, stack.admin_key)
    cookie = browser.cookies.get("vokaflow_console")
    assert (
        browser.post("/console/sign-out", data={"csrf_token": csrf_of(browser)}).status_code == 303
    )
    replay = stack.client(api_key="", follow_redirects=False)
    replay.cookies.set("vokaflow_console", cookie, domain="testserver.local", path="/console")
    reply = replay.get("/console/overview", cookies={"vokaflow_console": cookie})
    assert reply.status_code == 303


def test_a_task_page_shows_its_timeline_result_and_logs_escaped(stack):
    owner = new_key(stack, "page-viewer")
    task = urgent(stack.client(api_key=owner), name="<script>alert(1)</script>")
    play_scheduler(
        stack,
        task["task_id"],
        TaskStatus.COMPLETED,
        result={"answer": 42},
        logs=[
            {
                "ts": time.time(),
                "level": "INFO",
                "source": "stdout",
                "message": "hello <b>there</b>",
            }
        ],
    )
    browser = signed_in(stack, owner)
    page = browser.get(f"/console/tasks/{task['task_id']}")
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "submitted" in page.text and "finished" in page.text
    assert '"answer": 42' in html.unescape(page.text)
    assert 'hx-trigger="every 1s"' not in page.text, "a finished task's panel stops polling"
    stream = browser.get(f"/console/tasks/{task['task_id']}/logs/stream")
    assert stream.headers["content-type"].startswith("text/event-stream")
    assert "hello &lt;b&gt;there&lt;/b&gt;" in stream.text and "event: end" in stream.text


def test_a_principal_s_live_log_streams_are_bounded_and_given_back(stack, monkeypatch):
    owner = new_key(stack, "streamer")
    task = urgent(stack.client(api_key=owner))
    play_scheduler(stack, task["task_id"], TaskStatus.COMPLETED, result=1)
    browser = signed_in(stack, owner)
    stream_url = f"/console/tasks/{task['task_id']}/logs/stream"
    monkeypatch.setattr(LOG_STREAMS, "most", 1)
    assert "event: end" in browser.get(stream_url).text
    assert LOG_STREAMS.open == {}, "a stream that ended gave its slot back"
    monkeypatch.setattr(LOG_STREAMS, "most", 0)
    refused = browser.get(stream_url)
    assert refused.status_code == 429, refused.text
    assert int(refused.headers["retry-after"]) > 0
    assert "rate_limit_exceeded" in refused.text  # the console's error page


def test_a_queued_task_s_panel_polls_and_run_again_makes_a_new_task(stack):
    owner = new_key(stack, "rerunner")
    task = submit(stack.client(api_key=owner), "sleep", 30, priority="LOW", name="again")
    browser = signed_in(stack, owner)
    panel = browser.get(f"/console/tasks/{task['task_id']}/panel")
    assert 'hx-trigger="every 1s"' in panel.text and 'data-status="queued"' in panel.text
    reply = browser.post(
        f"/console/tasks/{task['task_id']}/rerun", data={"csrf_token": csrf_of(browser)}
    )
    assert reply.status_code == 303
    new_id = reply.headers["location"].split("/console/tasks/")[1].split("?")[0]
    assert new_id != task["task_id"]
    status = stack.client(api_key=owner).get(f"/api/high-scale-tasks/status/{new_id}").json()
    assert (status["name"], status["function_name"], status["priority"]) == (
        "again",
        "sleep",
        "LOW",
    )
    assert status["metadata"]["run_again_of"] == task["task_id"]


def test_cancel_of_a_running_task_from_its_page(stack):
    owner = new_key(stack, "canceller")
    task = urgent(stack.client(api_key=owner), "sleep", 30)
    play_scheduler(stack, task["task_id"], None)
    browser = signed_in(stack, owner)
    assert 'data-status="running"' in browser.get(f"/console/tasks/{task['task_id']}").text
    reply = browser.post(
        f"/console/tasks/{task['task_id']}/cancel", data={"csrf_token": csrf_of(browser)}
    )
    assert reply.status_code == 303 and reply.headers["location"].endswith("?notice=cancelled")
    page = browser.get(reply.headers["location"])
    assert 'data-status="cancelled"' in page.text and "The task was cancelled." in page.text


def test_a_notice_in_a_link_shows_only_the_console_s_own_words(stack):
    owner = new_key(stack, "noticed")
    task = submit(stack.client(api_key=owner), "sleep", 30, priority="LOW")
    page = signed_in(stack, owner).get(f"/console/tasks/{task['task_id']}?notice=Your+key+leaked")
    assert "Your key leaked" not in page.text


def test_dead_letters_requeue_and_discard_from_the_page(stack):
    owner = new_key(stack, "dead-owner")
    client = stack.client(api_key=owner)
    first, second = (urgent(client, retry_count=0) for _ in range(2))
    for task in (first, second):
        play_scheduler(
            stack, task["task_id"], TaskStatus.FAILED, error={"type": "Boom", "message": "it broke"}
        )
    browser = signed_in(stack, owner)
    page = browser.get("/console/dead-letters")
    assert first["task_id"] in page.text and "it broke" in page.text
    outsider = signed_in(stack, new_key(stack, "dead-outsider"))
    assert first["task_id"] not in outsider.get("/console/dead-letters").text
    refused = outsider.post(
        f"/console/dead-letters/{first['task_id']}/discard", data={"csrf_token": csrf_of(outsider)}
    )
    assert refused.status_code == 404
    token = csrf_of(browser)
    assert (
        browser.post(
            f"/console/dead-letters/{first['task_id']}/requeue", data={"csrf_token": token}
        ).status_code
        == 303
    )
    assert (
        client.get(f"/api/high-scale-tasks/status/{first['task_id']}").json()["status"] == "queued"
    )
    assert (
        browser.post(
            f"/console/dead-letters/{second['task_id']}/discard", data={"csrf_token": token}
        ).status_code
        == 303
    )
    listed = client.get("/api/high-scale-tasks/dead-letters").json()["dead_letters"]
    assert [t["task_id"] for t in listed] == []
    assert (
        client.get(f"/api/high-scale-tasks/status/{second['task_id']}").json()["status"] == "failed"
    )
    client.delete(f"/api/high-scale-tasks/cancel/{first['task_id']}")  # see play_scheduler


def test_a_requeued_dead_letter_keeps_its_failed_run_in_its_history(stack):
    owner = new_key(stack, "dead-history")
    client = stack.client(api_key=owner)
    task = urgent(client, retry_count=0)
    error = {"type": "Boom", "message": "it broke"}
    play_scheduler(stack, task["task_id"], TaskStatus.FAILED, error=error)
    requeued = client.post(f"/api/high-scale-tasks/dead-letters/{task['task_id']}/requeue")
    assert requeued.json()["status"] == "queued"
    history = client.get(f"/api/logs/task/{task['task_id']}").json()["entries"]
    # play_scheduler's run started 0.2 s before it ended, maybe before the submit: by time
    # the earlier lines may interleave, but the requeue comes after them all
    events = [(e["event"], e["attempt"]) for e in history]
    earlier = [("submitted", None), ("dispatched", 1), ("started", 1), ("finished", 1)]
    assert sorted(events[:-1], key=str) == sorted(earlier, key=str)
    assert events[-1] == ("requeued", None)
    (finished,) = [e for e in history if e["event"] == "finished"]
    assert "Boom: it broke" in finished["message"] and finished["level"] == "ERROR"
    client.delete(f"/api/high-scale-tasks/cancel/{task['task_id']}")  # see play_scheduler


def test_requeue_all_requeues_every_dead_letter_of_the_principal(stack):
    owner = new_key(stack, "dead-many")
    client = stack.client(api_key=owner)
    tasks = [urgent(client, retry_count=0) for _ in range(3)]
    for task in tasks:
        play_scheduler(
            stack, task["task_id"], TaskStatus.FAILED, error={"type": "Boom", "message": "x"}
        )
    browser = signed_in(stack, owner)
    reply = browser.post("/console/dead-letters/requeue-all", data={"csrf_token": csrf_of(browser)})
    assert reply.headers["location"].endswith("notice=requeued-all")
    for task in tasks:
        assert (
            client.get(f"/api/high-scale-tasks/status/{task['task_id']}").json()["status"]
            == "queued"
        )
        client.delete(f"/api/high-scale-tasks/cancel/{task['task_id']}")  # see play_scheduler


def test_the_discard_api_takes_a_dead_letter_off_the_list(stack):
    owner = new_key(stack, "discard-api")
    client = stack.client(api_key=owner)
    task = urgent(client, retry_count=0)
    play_scheduler(
        stack, task["task_id"], TaskStatus.FAILED, error={"type": "Boom", "message": "x"}
    )
    url = f"/api/high-scale-tasks/dead-letters/{task['task_id']}"
    assert stack.client(api_key=new_key(stack, "discard-other")).delete(url).status_code == 404
    assert client.delete(url).json() == {"task_id": task["task_id"], "discarded": True}
    again = client.delete(url)
    assert again.status_code == 404 and again.json()["error"] == "not_found"


def test_keys_are_for_admins_only(stack):
    tenant = signed_in(stack, new_key(stack, "not-an-admin"))
    assert tenant.get("/console/keys").status_code == 404
    assert (
        tenant.post("/console/keys", data={"csrf_token": csrf_of(tenant), "name": "x"}).status_code
        == 404
    )
    assert "/console/keys" not in tenant.get("/console/overview").text


def test_an_admin_creates_a_key_shown_once_and_revokes_it(stack):
    admin = signed_in(stack, stack.admin_key)
    reply = admin.post(
        "/console/keys",
        data={
            "csrf_token": csrf_of(admin),
            "name": "made-in-console",
            "role": "user",
            "max_priority": "HIGH",
        },
    )
    assert reply.status_code == 201
    key = re.search(r'<code id="new-key">([^<]+)</code>', reply.text).group(1)
    made = stack.client(api_key=key)
    assert made.get("/api/high-scale-tasks/priorities").status_code == 200
    assert submit_refused_field(made) == "priority"
    assert key not in admin.get("/console/keys").text, "the key is shown once"
    key_id = stack.portal.call(stack.services.api_keys.all)[-1].key_id
    assert (
        admin.post(
            f"/console/keys/{key_id}/revoke", data={"csrf_token": csrf_of(admin)}
        ).status_code
        == 303
    )
    time.sleep(0.6)
    assert made.get("/api/high-scale-tasks/priorities").status_code == 401


def submit_refused_field(client: Any) -> str:
    reply = client.post(
        "/api/high-scale-tasks/submit",
        json={"name": "x", "function_name": "noop", "priority": "EMERGENCY"},
    )
    assert reply.status_code == 400
    return str(reply.json()["details"]["field"])


@pytest.mark.parametrize(
    "path",
    [
        "/console/overview",
        "/console/batches",
        "/console/schedules",
        "/console/dead-letters",
        "/console/webhooks",
        "/console/keys",
    ],
)
def test_every_page_answers_an_admin(stack, path):
    assert signed_in(stack, stack.admin_key).get(path).status_code == 200


def test_the_overview_shows_queues_and_sla_attainment_per_priority(stack):
    services = stack.services
    minute = int(time.time() // 60)
    stack.portal.call(
        services.dispatch.beat,
        time.time(),
        {},
        10,
        {minute: {"HIGH:started": 4, "HIGH:late": 1}},
    )
    page = signed_in(stack, stack.admin_key).get("/console/overview")
    row = re.search(r"<th scope=\"row\">HIGH</th>(.*?)</tr>", page.text, re.S).group(1)
    assert "75.0%" in row and "of 4" in row
    chart = signed_in(stack, stack.admin_key).get("/console/overview/throughput.json").json()
    assert len(chart["t"]) == len(chart["finished"]) > 60


def test_a_workflow_page_draws_its_nodes(stack):
    owner = new_key(stack, "drawer")
    client = stack.client(api_key=owner)
    body = {
        "name": "diamond",
        "tasks": [
            {"name": "a", "function_name": "noop"},
            {"name": "b", "function_name": "noop", "depends_on": ["a"]},
            {"name": "c", "function_name": "noop", "depends_on": ["a"]},
            {"name": "d", "function_name": "noop", "depends_on": ["b", "c"]},
        ],
    }
    workflow = client.post("/api/workflows", json=body).json()
    browser = signed_in(stack, owner)
    page = browser.get(f"/console/workflows/{workflow['workflow_id']}")
    assert page.status_code == 200
    assert page.text.count("<rect") == 4 and page.text.count("<line") == 4
    assert 'hx-trigger="every 2s"' in page.text
    listing = browser.get("/console/batches")
    assert workflow["workflow_id"] in listing.text
    assert (
        signed_in(stack, new_key(stack, "not-drawer"))
        .get(f"/console/workflows/{workflow['workflow_id']}")
        .status_code
        == 404
    )


def test_static_files_are_served_from_the_gateway_itself(stack):
    browser = stack.client(api_key="")
    assert browser.get("/console/static/vendor/htmx-2.0.11.min.js").status_code == 200
    assert browser.get("/console/static/vendor/uPlot-1.6.32.iife.min.js").status_code == 200
    page = browser.get("/console/sign-in")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert not re.search(r"(src|href)=\"(https?:)?//", page.text), "nothing from another origin"


def test_the_task_search_finds_a_tenant_s_own_tasks_only(stack):
    mine, theirs = new_key(stack, "searcher"), new_key(stack, "searched")
    own = [
        submit(stack.client(api_key=mine), "sleep", 30, priority="LOW", name="needle")
        for _ in range(3)
    ]
    other = submit(stack.client(api_key=theirs), "sleep", 30, priority="LOW", name="needle")
    browser = signed_in(stack, mine)
    page = browser.get("/console/tasks?name=needle")
    assert page.status_code == 200
    assert all(t["task_id"] in page.text for t in own)
    assert other["task_id"] not in page.text
    sneaky = browser.get("/console/tasks?name=needle&principal=searched")
    assert other["task_id"] not in sneaky.text, "only admins may name a principal"
    admin = signed_in(stack, stack.admin_key)
    assert other["task_id"] in admin.get("/console/tasks?name=needle&principal=searched").text


def test_the_task_search_filters_and_pages(stack):
    key = new_key(stack, "pager")
    client = stack.client(api_key=key)
    low = [submit(client, "sleep", 30, priority="LOW", name="paged") for _ in range(3)]
    high = submit(client, "sleep", 30, priority="HIGH", name="paged")
    browser = signed_in(stack, key)
    by_priority = browser.get("/console/tasks?priority=HIGH")
    assert high["task_id"] in by_priority.text and low[0]["task_id"] not in by_priority.text
    queued = browser.get("/console/tasks?status=queued&function=sleep&order=oldest")
    assert all(t["task_id"] in queued.text for t in low)
    assert low[0]["task_id"] not in browser.get("/console/tasks?status=completed").text


def test_a_bad_search_is_a_400_naming_its_field(stack):
    browser = signed_in(stack, stack.admin_key)
    for query, field in (
        ("status=nearly", "status"),
        ("priority=URGENT", "priority"),
        ("cursor=garbage", "cursor"),
    ):
        reply = browser.get(f"/console/tasks?{query}")
        assert reply.status_code == 400, query
        assert f"field = {field}" in reply.text


def test_a_search_by_id_opens_the_task(stack):
    browser = signed_in(stack, stack.admin_key)
    reply = browser.get("/console/tasks?id=some-task-id")
    assert reply.status_code == 303 and reply.headers["location"] == "/console/tasks/some-task-id"


def test_a_key_s_digest_is_never_taken_for_the_key(stack):
    """A console session looks its key up by digest: that digest, sent as a credential
    while the session is in the cache, is still no credential."""
    key = new_key(stack, "digest-holder")
    browser = signed_in(stack, key)
    assert browser.get("/console/overview").status_code == 200  # the digest is cached now
    digest = hashlib.sha256(key.encode()).hexdigest()
    for sent in (f"sha256:{digest}", digest):
        forged = stack.client(api_key="")
        forged.headers["Authorization"] = f"Bearer {sent}"
        assert forged.get("/api/high-scale-tasks/priorities").status_code == 401


def test_a_jwt_session_keeps_its_claims_not_the_token_and_ends_with_it(stack):
    secret = (stack.home / "jwt_secret").read_text().strip()
    now = int(time.time())
    claims = {"sub": "jwt-console", "nbf": now, "exp": now + 3, **JWT_CLAIMS}
    token = jwt.encode(claims, secret)
    browser = signed_in(stack, token)
    assert browser.get("/console/overview").status_code == 200
    sessions = stack.portal.call(stack.services.redis.keys, f"{stack.key_prefix}:console:session:*")
    stored = [str(stack.portal.call(stack.services.redis.hgetall, k)) for k in sessions]
    assert not any(token in record for record in stored)
    time.sleep(3.6)  # past exp, and past the 0.5 s key cache
    assert browser.get("/console/overview").status_code == 303


def test_an_admin_cannot_run_a_tenant_s_task_again(stack):
    """Its arguments were checked in the tenant's data scope; as the admin they would reach
    the whole data root."""
    tenant = new_key(stack, "rerun-victim")
    task = submit(stack.client(api_key=tenant), "sleep", 30, priority="LOW")
    admin = signed_in(stack, stack.admin_key)
    page = admin.get(f"/console/tasks/{task['task_id']}")
    assert page.status_code == 200 and 'id="rerun-task"' not in page.text
    reply = admin.post(
        f"/console/tasks/{task['task_id']}/rerun", data={"csrf_token": csrf_of(admin)}
    )
    assert reply.status_code == 409
    assert (
        'id="rerun-task"' in signed_in(stack, tenant).get(f"/console/tasks/{task['task_id']}").text
    )


def test_odd_tokens_and_times_are_refused_not_crashed_on(stack):
    browser = signed_in(stack, stack.admin_key)
    reply = browser.post("/console/sign-out", data={"csrf_token": "jeton-é"})
    assert reply.status_code == 403
    assert browser.get("/console/batches?before=nan").status_code == 400
    assert browser.get("/console/batches?before=soon").status_code == 400
    fresh = stack.client(api_key="", follow_redirects=False)
    fresh.cookies.set("vokaflow_console_sign_in", "x")
    refused = fresh.post("/console/sign-in", data={"credential": "k", "sign_in_token": "é"})
    assert refused.status_code == 403


def test_signing_in_again_closes_the_session_before(stack):
    browser = signed_in(stack, stack.admin_key)
    first = browser.cookies.get("vokaflow_console")
    token = SIGN_IN_TOKEN.search(browser.get("/console/sign-in").text).group(1)
    browser.post("/console/sign-in", data={"credential": stack.admin_key, "sign_in_token": token})
    assert browser.cookies.get("vokaflow_console") != first
    replay = stack.client(api_key="", follow_redirects=False)
    assert replay.get("/console/overview", cookies={"vokaflow_console": first}).status_code == 303


def test_a_dense_workflow_is_listed_not_drawn(stack):
    owner = new_key(stack, "dense")
    nodes = [{"name": "n0", "function_name": "noop"}]
    nodes += [
        {"name": f"n{i}", "function_name": "noop", "depends_on": [f"n{j}" for j in range(i)]}
        for i in range(1, 70)
    ]
    made = stack.client(api_key=owner).post(
        "/api/workflows", json={"name": "dense", "tasks": nodes}
    )
    assert made.status_code == 201, made.text
    page = signed_in(stack, owner).get(f"/console/workflows/{made.json()['workflow_id']}")
    assert "<svg" not in page.text and "Too many nodes or edges" in page.text
    assert "and 58 more" in page.text
