"""What the attack tests share: submitting as a tenant and reading the outcome."""

from __future__ import annotations

import stat
import time
from pathlib import Path
from typing import Any

import httpx
import jwt

from tests.conftest import JWT_CLAIMS
from tests.integration.helpers import wait_until

SUBMIT = "/api/high-scale-tasks/submit"


def post_task(client: httpx.Client, function_name: str, **fields: Any) -> httpx.Response:
    """The submit's reply, after waiting out a category's rate limit (the test stack keeps
    `ml` at 2 tasks a second, shared by every test)."""
    body = {"name": f"attack {function_name}", "function_name": function_name, **fields}
    for _ in range(30):
        reply = client.post(SUBMIT, json=body)
        if reply.status_code != 429:
            return reply
        time.sleep(float(reply.json()["details"]["retry_after"]))
    raise AssertionError("still rate limited after 30 tries")


def run_task(
    client: httpx.Client, function_name: str, timeout_s: float = 240, **fields: Any
) -> dict[str, Any]:
    """The task's final status, submitted with no retries so a failure shows at once."""
    reply = post_task(client, function_name, retry_count=0, **fields)
    assert reply.status_code == 200, reply.text
    return wait_until(client, reply.json()["task_id"], timeout_s=timeout_s)


def refused_field(reply: httpx.Response) -> str:
    """The field a 400 names."""
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"] == "validation_error", reply.text
    field: str = reply.json()["details"]["field"]
    return field


def open_to_others(path: Path) -> bool:
    """Whether a user other than the owner (in its group or not) may read or enter it."""
    return bool(path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))


def signed_token(stack: Any, sub: str, role: str = "user") -> str:
    """A token for ``sub`` signed with the stack's own secret, as `vokaflow token` makes one."""
    secret = (stack.home / "jwt_secret").read_text().strip()
    now = int(time.time())
    claims = {"sub": sub, "role": role, "nbf": now, "exp": now + 600, **JWT_CLAIMS}
    return jwt.encode(claims, secret)


def bearer_client(stack: Any, credential: str) -> Any:
    """A client of the stack that sends ``credential`` as a bearer token, and no key."""
    client = stack.client(api_key="")
    client.headers["Authorization"] = f"Bearer {credential}"
    return client
