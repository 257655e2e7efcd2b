"""Every API operation, written once as a plan (see ``_core``). Both clients expose each
plan as a method of the same name: ``await client.submit_task(...)`` or
``sync_client.submit_task(...)``. The first parameter, the retry policy, is the client's."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import Enum
from typing import Any
from urllib.parse import quote

from vokaflow_sdk._core import Plan, RetryPolicy, Send, Sleep, StreamRequest, call
from vokaflow_sdk.errors import TaskWaitTimeout
from vokaflow_sdk.models import (
    BatchStatusResponse,
    BatchSubmitResponse,
    CancelResponse,
    DeliveryAttemptResponse,
    ExecutionMode,
    FunctionsResponse,
    HealthResponse,
    MetricsResponse,
    NotifySecretResponse,
    PersonalitiesResponse,
    PrioritiesResponse,
    Priority,
    ScheduleDeletedResponse,
    ScheduleListResponse,
    ScheduleResponse,
    SystemLogsResponse,
    TaskLogsResponse,
    TaskStatusResponse,
    TaskSubmitResponse,
    VickyChatResponse,
    VickyInferenceResponse,
    WebhookDeletedResponse,
    WebhookEvent,
    WebhookListResponse,
    WebhookResponse,
    WorkerType,
    WorkflowResponse,
)

TASKS = "/api/high-scale-tasks"
VICKY = "/api/vicky"
WEBHOOKS = "/api/webhooks"
LOGS = "/api/logs"
SCHEDULES = "/api/schedules"
WORKFLOWS = "/api/workflows"

Message = Mapping[str, Any]


def _segment(value: str) -> str:
    """A path segment: an id can never reach another route."""
    return quote(str(value), safe="")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):  # a run_at; one without tzinfo is taken as UTC
        return value.isoformat()
    return value.value if isinstance(value, Enum) else value


def _compact(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The fields that were given (None means: leave it to the service's default)."""
    return {name: _plain(value) for name, value in fields.items() if value is not None}


# ---------------------------------------------------------------- tasks


def submit_task(
    policy: RetryPolicy,
    name: str,
    function_name: str,
    args: Sequence[Any] | None = None,
    kwargs: Mapping[str, Any] | None = None,
    priority: Priority | str = Priority.NORMAL,
    worker_type: WorkerType | str | None = None,
    category: str | None = None,
    timeout: int | None = None,
    retry_count: int | None = None,
    metadata: Mapping[str, Any] | None = None,
    idempotency_key: str | None = None,
    run_at: datetime | str | None = None,
    delay_seconds: float | None = None,
    sla_policy: str | None = None,
    concurrency_key: str | None = None,
    max_concurrency: int | None = None,
    depends_on: Sequence[str] | None = None,
    trigger_rule: str | None = None,
    pass_results_as: str | None = None,
    **extra: Any,
) -> Plan[TaskSubmitResponse]:
    """Submit one task (``POST /api/high-scale-tasks/submit``). With ``idempotency_key``,
    a repeat returns the first task instead of a new one. With ``run_at`` (a datetime, UTC
    when naive, or ISO 8601 text) or ``delay_seconds``, not both, it is ``scheduled`` until
    then. A task of ``submit_batch`` takes the same two keys. With ``sla_policy="reject"``,
    a task that the measured backlog says would start past its priority's SLA is refused
    with RateLimitExceeded (its ``retry_after``), and nothing is written. With
    ``concurrency_key`` and ``max_concurrency``, at most that many of your tasks with that key
    run at once; the rest wait, keeping their place. With ``depends_on`` (task ids of
    yours) it waits until they ended, then runs, or ends ``upstream_failed`` when one did
    not complete unless ``trigger_rule="all_done"``."""
    body = _compact(
        {
            "name": name,
            "function_name": function_name,
            "args": None if args is None else list(args),
            "kwargs": None if kwargs is None else dict(kwargs),
            "priority": priority,
            "worker_type": worker_type,
            "category": category,
            "timeout": timeout,
            "retry_count": retry_count,
            "metadata": None if metadata is None else dict(metadata),
            "idempotency_key": idempotency_key,
            "run_at": run_at,
            "delay_seconds": delay_seconds,
            "sla_policy": sla_policy,
            "concurrency_key": concurrency_key,
            "max_concurrency": max_concurrency,
            "depends_on": None if depends_on is None else list(depends_on),
            "trigger_rule": trigger_rule,
            "pass_results_as": pass_results_as,
        }
    )
    data = yield from call(policy, "POST", f"{TASKS}/submit", json={**body, **extra})
    return TaskSubmitResponse.model_validate(data)


def submit_batch(
    policy: RetryPolicy,
    tasks: Sequence[Mapping[str, Any]],
    execution_mode: ExecutionMode | str = ExecutionMode.PARALLEL,
    batch_timeout: int | None = None,
    max_failures: int | None = None,
    priority: Priority | str | None = None,
    idempotency_key: str | None = None,
    **extra: Any,
) -> Plan[BatchSubmitResponse]:
    """Submit many tasks at once (``POST /api/high-scale-tasks/batch``). Invalid or
    rate-limited tasks are listed in ``errors``; the rest go in. ``priority`` is the
    ``batch_priority`` of the tasks that name none."""
    body = _compact(
        {
            "tasks": [{k: _plain(v) for k, v in task.items()} for task in tasks],
            "batch_priority": priority,
            "execution_mode": execution_mode,
            "batch_timeout": batch_timeout,
            "max_failures": max_failures,
            "idempotency_key": idempotency_key,
        }
    )
    data = yield from call(policy, "POST", f"{TASKS}/batch", json={**body, **extra})
    return BatchSubmitResponse.model_validate(data)


def get_task_status(policy: RetryPolicy, task_id: str) -> Plan[TaskStatusResponse]:
    """A task's status, result or error (``GET /api/high-scale-tasks/status/{id}``)."""
    data = yield from call(policy, "GET", f"{TASKS}/status/{_segment(task_id)}")
    return TaskStatusResponse.model_validate(data)


def wait_for_completion(
    policy: RetryPolicy, task_id: str, timeout: float = 300.0, poll_interval: float = 1.0
) -> Plan[TaskStatusResponse]:
    """Poll the task's status until it ends (completed, failed, cancelled or timeout) and
    return that status; raise ``TaskWaitTimeout`` (a ``TimeoutError``) after ``timeout``
    seconds. A failed task is returned, not raised: look at ``status`` and ``error``."""
    deadline = time.monotonic() + timeout
    while True:
        status = yield from get_task_status(policy, task_id)
        if status.is_terminal:
            return status
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TaskWaitTimeout(
                f"Task '{task_id}' is still {status.status} after {timeout} s",
                task_id=task_id,
                last_status=status.status,
            )
        yield Sleep(min(poll_interval, remaining))


def cancel_task(policy: RetryPolicy, task_id: str) -> Plan[CancelResponse]:
    """Cancel a queued or running task; ``Conflict`` when it has already ended."""
    data = yield from call(policy, "DELETE", f"{TASKS}/cancel/{_segment(task_id)}")
    return CancelResponse.model_validate(data)


def get_batch(policy: RetryPolicy, batch_id: str) -> Plan[BatchStatusResponse]:
    """A batch's progress (``GET /api/high-scale-tasks/batch/{id}``)."""
    data = yield from call(policy, "GET", f"{TASKS}/batch/{_segment(batch_id)}")
    return BatchStatusResponse.model_validate(data)


# ---------------------------------------------------------------- catalog, metrics, logs


def get_metrics(policy: RetryPolicy) -> Plan[MetricsResponse]:
    """Throughput, queues, pools, rate limits and Redis (``GET .../metrics``)."""
    data = yield from call(policy, "GET", f"{TASKS}/metrics")
    return MetricsResponse.model_validate(data)


def list_functions(policy: RetryPolicy) -> Plan[FunctionsResponse]:
    """The registered functions, grouped by category (``GET .../functions``)."""
    data = yield from call(policy, "GET", f"{TASKS}/functions")
    return FunctionsResponse.model_validate(data)


def get_priorities(policy: RetryPolicy) -> Plan[PrioritiesResponse]:
    """The eight priority levels with their SLAs (``GET .../priorities``)."""
    data = yield from call(policy, "GET", f"{TASKS}/priorities")
    return PrioritiesResponse.model_validate(data)


def get_health(policy: RetryPolicy) -> Plan[HealthResponse]:
    """``GET /api/health/`` (needs no credentials)."""
    data = yield from call(policy, "GET", "/api/health/")
    return HealthResponse.model_validate(data)


def get_task_logs(
    policy: RetryPolicy, task_id: str, limit: int | None = None
) -> Plan[TaskLogsResponse]:
    """A task's history and what its function printed or logged, oldest first."""
    params = _compact({"limit": limit})
    data = yield from call(policy, "GET", f"{LOGS}/task/{_segment(task_id)}", params=params)
    return TaskLogsResponse.model_validate(data)


def get_logs(
    policy: RetryPolicy, level: str = "INFO", limit: int = 100, component: str | None = None
) -> Plan[SystemLogsResponse]:
    """The newest log entries at ``level`` or above, newest first."""
    params = _compact({"level": level, "limit": limit, "component": component})
    data = yield from call(policy, "GET", LOGS, params=params)
    return SystemLogsResponse.model_validate(data)


# ---------------------------------------------------------------- Vicky


def _parameters(
    max_tokens: int | None, temperature: float | None, top_p: float | None
) -> dict[str, Any] | None:
    given = _compact({"max_tokens": max_tokens, "temperature": temperature, "top_p": top_p})
    return given or None


def _messages(message: str | Sequence[Message]) -> list[dict[str, Any]]:
    """A string is one user message; a list is sent as it is."""
    if isinstance(message, str):
        return [{"role": "user", "content": message}]
    return [dict(m) for m in message]


def _inference_body(
    text: str,
    model: str | None,
    personality: str | None,
    context: Mapping[str, Any] | None,
    parameters: dict[str, Any] | None,
) -> dict[str, Any]:
    return _compact(
        {
            "text": text,
            "model": model,
            "personality": personality,
            "context": None if context is None else dict(context),
            "parameters": parameters,
        }
    )


def _chat_body(
    message: str | Sequence[Message],
    session_id: str | None,
    model: str | None,
    personality: str | None,
    parameters: dict[str, Any] | None,
) -> dict[str, Any]:
    return _compact(
        {
            "messages": _messages(message),
            "model": model,
            "personality": personality,
            "session_id": session_id,
            "parameters": parameters,
        }
    )


def vicky_inference(
    policy: RetryPolicy,
    text: str,
    model: str | None = None,
    personality: str | None = None,
    context: Mapping[str, Any] | None = None,
    max_tokens: int | None = None,
    temperature: float | None = None,
    top_p: float | None = None,
) -> Plan[VickyInferenceResponse]:
    """One prompt, one answer (``POST /api/vicky/inference``)."""
    parameters = _parameters(max_tokens, temperature, top_p)
    body = _inference_body(text, model, personality, context, parameters)
    data = yield from call(policy, "POST", f"{VICKY}/inference", json=body)
    return VickyInferenceResponse.model_validate(data)


def vicky_chat(
    policy: RetryPolicy,
    message: str | Sequence[Message],
    session_id: str | None = None,
    model: str | None = None,
    personality: str | None = None,
    max_tokens: int | None = None,
    temperature: float | None = None,
    top_p: float | None = None,
) -> Plan[VickyChatResponse]:
    """A conversation turn (``POST /api/vicky/chat``). ``message`` is the user's text, or
    a list of ``{"role", "content"}`` messages. With a ``session_id`` the service keeps the
    conversation: send only the new message next time (the answer names the session)."""
    body = _chat_body(
        message, session_id, model, personality, _parameters(max_tokens, temperature, top_p)
    )
    data = yield from call(policy, "POST", f"{VICKY}/chat", json=body)
    return VickyChatResponse.model_validate(data)


def vicky_chat_stream(
    message: str | Sequence[Message],
    session_id: str | None = None,
    model: str | None = None,
    personality: str | None = None,
    max_tokens: int | None = None,
    temperature: float | None = None,
    top_p: float | None = None,
) -> StreamRequest[VickyChatResponse]:
    """``vicky_chat``, streamed: iterate over the pieces of text as they are generated;
    afterwards the stream's ``response`` holds the whole answer (with its ``session_id``)."""
    parameters = _parameters(max_tokens, temperature, top_p)
    body = _chat_body(message, session_id, model, personality, parameters)
    send = Send("POST", f"{VICKY}/chat", json={**body, "stream": True})
    return StreamRequest(send, VickyChatResponse.model_validate)


def vicky_inference_stream(
    text: str,
    model: str | None = None,
    personality: str | None = None,
    context: Mapping[str, Any] | None = None,
    max_tokens: int | None = None,
    temperature: float | None = None,
    top_p: float | None = None,
) -> StreamRequest[VickyInferenceResponse]:
    """``vicky_inference``, streamed: iterate over the pieces of text; afterwards the
    stream's ``response`` holds the whole answer."""
    parameters = _parameters(max_tokens, temperature, top_p)
    body = _inference_body(text, model, personality, context, parameters)
    send = Send("POST", f"{VICKY}/inference", json={**body, "stream": True})
    return StreamRequest(send, VickyInferenceResponse.model_validate)


def list_personalities(policy: RetryPolicy) -> Plan[PersonalitiesResponse]:
    """Vicky's personalities and their system prompts."""
    data = yield from call(policy, "GET", f"{VICKY}/personalities")
    return PersonalitiesResponse.model_validate(data)


# ---------------------------------------------------------------- webhooks


def configure_webhook(
    policy: RetryPolicy,
    url: str,
    events: Sequence[WebhookEvent | str],
    secret: str,
) -> Plan[WebhookResponse]:
    """Have signed POSTs sent to ``url`` for ``events`` of this key's tasks and batches
    (``POST /api/webhooks/configure``). ``secret`` (8+ characters) keys the signature
    that ``verify_signature`` checks; the service never shows it again."""
    body = {"url": url, "events": [_plain(e) for e in events], "secret": secret}
    data = yield from call(policy, "POST", f"{WEBHOOKS}/configure", json=body)
    return WebhookResponse.model_validate(data)


def list_webhooks(policy: RetryPolicy) -> Plan[WebhookListResponse]:
    """This key's webhooks (every webhook, for an admin key)."""
    data = yield from call(policy, "GET", WEBHOOKS)
    return WebhookListResponse.model_validate(data)


def delete_webhook(policy: RetryPolicy, webhook_id: str) -> Plan[WebhookDeletedResponse]:
    """Stop and remove a webhook."""
    data = yield from call(policy, "DELETE", f"{WEBHOOKS}/{_segment(webhook_id)}")
    return WebhookDeletedResponse.model_validate(data)


def get_notify_secret(policy: RetryPolicy) -> Plan[NotifySecretResponse]:
    """The secret this key's ``send_webhook`` deliveries are signed with: a receiver of
    them checks with it (``verify_signature``)."""
    data = yield from call(policy, "GET", f"{WEBHOOKS}/notify-secret")
    return NotifySecretResponse.model_validate(data)


def send_webhook_test(policy: RetryPolicy, webhook_id: str) -> Plan[DeliveryAttemptResponse]:
    """Send one signed ``webhook.test`` delivery now; returns the attempt."""
    data = yield from call(policy, "POST", f"{WEBHOOKS}/{_segment(webhook_id)}/test")
    return DeliveryAttemptResponse.model_validate(data)


# ---------------------------------------------------------------- schedules


def create_schedule(
    policy: RetryPolicy,
    task: Mapping[str, Any],
    *,
    cron: str | None = None,
    timezone: str | None = None,
    interval_seconds: int | None = None,
    start: str | None = None,
    end: str | None = None,
    paused: bool | None = None,
    missed_fires: str | None = None,
) -> Plan[ScheduleResponse]:
    """Submit ``task`` (the fields of ``submit_task``, without idempotency_key) on ``cron``
    in ``timezone`` or every ``interval_seconds`` (``POST /api/schedules``). ``start`` and
    ``end`` are ISO 8601; ``missed_fires`` is "skip" (default) or "run_latest"."""
    body = _compact(
        {
            "task": dict(task),
            "cron": cron,
            "timezone": timezone,
            "interval_seconds": interval_seconds,
            "start": start,
            "end": end,
            "paused": paused,
            "missed_fires": missed_fires,
        }
    )
    data = yield from call(policy, "POST", SCHEDULES, json=body)
    return ScheduleResponse.model_validate(data)


def list_schedules(
    policy: RetryPolicy, limit: int | None = None, offset: int | None = None
) -> Plan[ScheduleListResponse]:
    """This key's schedules (every schedule, for an admin key), oldest first, a page of
    ``limit`` (100 unless given) from ``offset``."""
    params = _compact({"limit": limit, "offset": offset})
    data = yield from call(policy, "GET", SCHEDULES, params=params)
    return ScheduleListResponse.model_validate(data)


def get_schedule(policy: RetryPolicy, schedule_id: str) -> Plan[ScheduleResponse]:
    """A schedule with its next five fire times and its latest 20 runs."""
    data = yield from call(policy, "GET", f"{SCHEDULES}/{_segment(schedule_id)}")
    return ScheduleResponse.model_validate(data)


def update_schedule(
    policy: RetryPolicy, schedule_id: str, **changes: Any
) -> Plan[ScheduleResponse]:
    """Change the fields given (``task``, ``cron``, ``interval_seconds``, ``timezone``,
    ``start``, ``end``, ``paused``, ``missed_fires``; ``start=None`` removes it)
    (``PATCH /api/schedules/{id}``)."""
    body = {name: _plain(value) for name, value in changes.items()}
    data = yield from call(policy, "PATCH", f"{SCHEDULES}/{_segment(schedule_id)}", json=body)
    return ScheduleResponse.model_validate(data)


def pause_schedule(policy: RetryPolicy, schedule_id: str) -> Plan[ScheduleResponse]:
    """No fires until resumed."""
    data = yield from call(policy, "POST", f"{SCHEDULES}/{_segment(schedule_id)}/pause")
    return ScheduleResponse.model_validate(data)


def resume_schedule(policy: RetryPolicy, schedule_id: str) -> Plan[ScheduleResponse]:
    """Fire again from the next fire time after now (those missed while paused do not run)."""
    data = yield from call(policy, "POST", f"{SCHEDULES}/{_segment(schedule_id)}/resume")
    return ScheduleResponse.model_validate(data)


def delete_schedule(policy: RetryPolicy, schedule_id: str) -> Plan[ScheduleDeletedResponse]:
    """Stop and remove a schedule; the tasks it submitted stay."""
    data = yield from call(policy, "DELETE", f"{SCHEDULES}/{_segment(schedule_id)}")
    return ScheduleDeletedResponse.model_validate(data)


def submit_workflow(
    policy: RetryPolicy, name: str, tasks: Sequence[Mapping[str, Any]]
) -> Plan[WorkflowResponse]:
    """Submit a graph of named tasks (``POST /api/workflows``): each a task as
    ``submit_task`` takes it, its ``name`` unique, its ``depends_on`` naming other tasks of
    the graph; ``pass_results_as`` gives it {parent name: result}."""
    body = {"name": name, "tasks": [dict(task) for task in tasks]}
    data = yield from call(policy, "POST", WORKFLOWS, json=body)
    return WorkflowResponse.model_validate(data)


def get_workflow(policy: RetryPolicy, workflow_id: str) -> Plan[WorkflowResponse]:
    """Each node's status, the edges, and the whole workflow's status."""
    data = yield from call(policy, "GET", f"{WORKFLOWS}/{_segment(workflow_id)}")
    return WorkflowResponse.model_validate(data)


def cancel_workflow(policy: RetryPolicy, workflow_id: str) -> Plan[WorkflowResponse]:
    """Cancel every node that has not ended; running ones are stopped."""
    data = yield from call(policy, "DELETE", f"{WORKFLOWS}/{_segment(workflow_id)}")
    return WorkflowResponse.model_validate(data)
