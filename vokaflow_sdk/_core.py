"""The transport-agnostic core that the async and the sync client share.

Each API operation is written once, as a *plan*: a generator that yields steps (``Send``
a request, ``Sleep`` a while) and receives each request's ``httpx.Response``. A client only
drives plans: it performs each step with its own I/O (awaiting, or blocking) and sends the
outcome back. Retries on 429, error mapping and response parsing all live in the plans.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeAlias, TypeVar

import httpx

from vokaflow_sdk._version import __version__
from vokaflow_sdk.errors import (
    RateLimitExceeded,
    VokaFlowConnectionError,
    VokaFlowError,
    error_from_response,
)

T = TypeVar("T")
DEFAULT_RETRY_AFTER_S = 1.0  # a 429 that names no wait


@dataclass(frozen=True)
class Send:
    """Send one request; the plan receives the ``httpx.Response`` (body read)."""

    method: str
    path: str
    json: Any = None
    params: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Sleep:
    """Wait this many seconds; the plan receives ``None``."""

    seconds: float


Step: TypeAlias = Send | Sleep
Plan: TypeAlias = Generator[Step, Any, T]


@dataclass(frozen=True)
class RetryPolicy:
    """Whether, and how many times, a 429 is retried after waiting its ``retry_after``."""

    retry_on_rate_limit: bool = False
    max_rate_limit_retries: int = 3

    def delay(self, error: VokaFlowError, retries_done: int) -> float | None:
        """Seconds to wait before trying again, or None to raise ``error``."""
        if not (self.retry_on_rate_limit and isinstance(error, RateLimitExceeded)):
            return None
        if retries_done >= self.max_rate_limit_retries:
            return None
        wait = error.retry_after
        return DEFAULT_RETRY_AFTER_S if wait is None else max(0.0, wait)


@dataclass(frozen=True)
class ClientConfig:
    """What both clients are built from."""

    base_url: str
    headers: dict[str, str]
    timeout: float
    policy: RetryPolicy

    @classmethod
    def of(
        cls,
        base_url: str,
        api_key: str | None,
        token: str | None,
        timeout: float,
        retry_on_rate_limit: bool,
        max_rate_limit_retries: int,
    ) -> ClientConfig:
        policy = RetryPolicy(retry_on_rate_limit, max_rate_limit_retries)
        return cls(base_url.rstrip("/"), auth_headers(api_key, token), timeout, policy)

    def http_options(self) -> dict[str, Any]:
        """What either httpx client is built with."""
        return {"base_url": self.base_url, "headers": self.headers, "timeout": self.timeout}


def auth_headers(api_key: str | None, token: str | None) -> dict[str, str]:
    """An API key goes as ``X-API-Key``, a JWT as ``Authorization: Bearer``."""
    headers = {"User-Agent": f"vokaflow-sdk/{__version__}", "Accept": "application/json"}
    if api_key:
        headers["X-API-Key"] = api_key
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def call(
    policy: RetryPolicy,
    method: str,
    path: str,
    *,
    json: Any = None,
    params: Mapping[str, Any] | None = None,
) -> Plan[Any]:
    """One request: its decoded JSON body, or the mapped error (429s retried per policy)."""
    send = Send(method, path, json, params)
    retries = 0
    while True:
        response: httpx.Response = yield send
        if response.status_code < 400:
            return decode(response)
        delay = failure_delay(policy, response, retries)
        retries += 1
        yield Sleep(delay)


def failure_delay(policy: RetryPolicy, response: httpx.Response, retries_done: int) -> float:
    """How long to wait before retrying a failed answer; raises when it is not retried."""
    error = error_from_response(response.status_code, response.headers, response.content)
    delay = policy.delay(error, retries_done)
    if delay is None:
        raise error
    return delay


def connection_error(send: Send, exc: httpx.TransportError) -> VokaFlowConnectionError:
    return VokaFlowConnectionError(f"{send.method} {send.path} got no answer: {exc!r}")


def decode(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return json.loads(response.content)
    except ValueError as exc:
        raise VokaFlowError(
            f"Expected JSON from {response.request.method} {response.request.url.path}",
            status_code=response.status_code,
            body=response.text[:500],
        ) from exc


@dataclass(frozen=True)
class StreamRequest(Generic[T]):
    """A streamed (SSE) request, and the model of the whole answer its ``done`` event
    carries."""

    send: Send
    final_model: Callable[[Any], T]


def adopt(
    method: Callable[..., Any],
    source: Callable[..., Any],
    *,
    takes_policy: bool,
    result_wrapper: str | None = None,
) -> None:
    """Give a generated client method the name, docs and signature of the function it
    runs: ``self`` in place of the plan's retry policy, and the plan's result type (as
    ``result_wrapper[...]`` when given) in place of ``Plan[...]`` or ``StreamRequest[...]``."""
    method.__name__ = source.__name__
    method.__qualname__ = source.__name__
    method.__doc__ = source.__doc__
    signature = inspect.signature(source)
    rest = list(signature.parameters.values())[1 if takes_policy else 0 :]
    self_param = inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY)
    result = _type_argument(signature.return_annotation)
    if result_wrapper and result is not inspect.Signature.empty:
        result = f"{result_wrapper}[{result}]"
    method.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[self_param, *rest], return_annotation=result
    )


def _type_argument(annotation: Any) -> Any:
    """``"Plan[TaskSubmitResponse]"`` -> ``"TaskSubmitResponse"`` (annotations are text)."""
    if not isinstance(annotation, str) or "[" not in annotation:
        return inspect.Signature.empty
    return annotation[annotation.index("[") + 1 : annotation.rindex("]")]
