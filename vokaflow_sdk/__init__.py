"""VokaFlow's Python SDK: typed async and sync clients for the VokaFlow REST API.

    import asyncio
    from vokaflow_sdk import VokaFlowClient

    async def main() -> None:
        async with VokaFlowClient("http://localhost:8000", api_key="KEY") as client:
            task = await client.submit_task("stats", "statistical_summary", args=[[1, 2, 3]])
            done = await client.wait_for_completion(task.task_id, timeout=60)
            print(done.status, done.result)

    asyncio.run(main())

``SyncVokaFlowClient`` has the same methods, blocking. Errors are ``VokaFlowError``
subclasses (``vokaflow_sdk.errors``); webhook deliveries are checked with
``verify_signature``.
"""

from vokaflow_sdk._version import __version__
from vokaflow_sdk.client import AsyncTextStream, VokaFlowClient
from vokaflow_sdk.errors import (
    AuthenticationError,
    Conflict,
    NotFound,
    PayloadTooLarge,
    RateLimitExceeded,
    ServerError,
    ServiceUnavailable,
    StreamError,
    TaskNotFound,
    TaskWaitTimeout,
    ValidationError,
    VokaFlowConnectionError,
    VokaFlowError,
)
from vokaflow_sdk.models import (
    BatchStatusResponse,
    BatchSubmitResponse,
    CancelResponse,
    ExecutionMode,
    FunctionsResponse,
    MetricsResponse,
    PrioritiesResponse,
    Priority,
    ScheduleResponse,
    TaskStatusResponse,
    TaskSubmitResponse,
    VickyChatResponse,
    VickyInferenceResponse,
    WebhookEvent,
    WebhookResponse,
    WorkerType,
    WorkflowResponse,
)
from vokaflow_sdk.sync_client import SyncVokaFlowClient, TextStream
from vokaflow_sdk.webhooks import verify_signature

__all__ = [
    "AsyncTextStream",
    "AuthenticationError",
    "BatchStatusResponse",
    "BatchSubmitResponse",
    "CancelResponse",
    "Conflict",
    "ExecutionMode",
    "FunctionsResponse",
    "MetricsResponse",
    "NotFound",
    "PayloadTooLarge",
    "PrioritiesResponse",
    "Priority",
    "RateLimitExceeded",
    "ScheduleResponse",
    "ServerError",
    "ServiceUnavailable",
    "StreamError",
    "SyncVokaFlowClient",
    "TaskNotFound",
    "TaskStatusResponse",
    "TaskSubmitResponse",
    "TaskWaitTimeout",
    "TextStream",
    "ValidationError",
    "VickyChatResponse",
    "VickyInferenceResponse",
    "VokaFlowClient",
    "VokaFlowConnectionError",
    "VokaFlowError",
    "WebhookEvent",
    "WebhookResponse",
    "WorkerType",
    "WorkflowResponse",
    "__version__",
    "verify_signature",
]
