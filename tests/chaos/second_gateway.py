"""A gateway of its own beside the stack's: the app a Serve replica builds
(vokaflow.api.gateway), on the stack's Redis and settings, served by uvicorn in a process of
its own, as a second host behind a load balancer would serve it.

    uvicorn --factory tests.chaos.second_gateway:app   (with the stack's environment)
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from fastapi import FastAPI

from vokaflow.api.app import create_app
from vokaflow.api.services import Services
from vokaflow.config import load_settings
from vokaflow.runtime import launcher
from vokaflow.testing.stack import LocalStack, free_port

START_S = 60


def app() -> FastAPI:
    settings = load_settings()
    secret = launcher.jwt_secret(settings, create=False)
    gateway_settings = settings.model_copy(update={"jwt_secret": secret})
    return create_app(Services(gateway_settings, os.environ["VOKAFLOW_REDIS_URL"]))


@contextmanager
def second_gateway(stack: LocalStack) -> Iterator[httpx.Client]:
    """A client of a second gateway process on ``stack``'s Redis, with its admin key."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "--factory", f"{__name__}:app"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(command, env=stack.env)
    client = httpx.Client(
        base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": stack.admin_key}, timeout=30
    )
    try:
        _wait_healthy(client, process)
        yield client
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=30)


def _wait_healthy(client: httpx.Client, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline:
        assert process.poll() is None, "the second gateway exited"
        try:
            if client.get("/api/health").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the second gateway did not answer within {START_S} s")
