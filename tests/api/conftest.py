"""The API tier: the FastAPI app in-process on the tier's embedded Redis, no Ray, no Serve.

``stack`` here is an InProcessService: it answers what the tests of this tier ask of the
full stack (``client``, ``cli`` for keys and tokens, ``admin_key``, ``redis_url``,
``key_prefix``), so a test that needs no running task reads the same in either tier.
Nothing runs the accepted tasks (a heartbeat
stands in for the scheduler): tests here check validation, auth, tenancy and error
bodies, not outcomes."""

from __future__ import annotations

import os
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio.from_thread
import pytest
import uvicorn
from anyio.from_thread import BlockingPortal
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.conftest import TEST_SETTINGS, VOKAFLOW
from tests.tier_guards import refuse_starting_ray
from vokaflow.api.app import create_app
from vokaflow.api.services import Services
from vokaflow.config import load_settings
from vokaflow.runtime import launcher

# Shorter than the whole stack's: the auth-failure tests wait out a window twice, and the
# revocation test a replica's cached key; what they prove does not depend on the length.
AUTH_FAILURE_WINDOW_S = 2
FAST_SETTINGS = {
    "VOKAFLOW_AUTH_FAILURE_WINDOW_S": str(AUTH_FAILURE_WINDOW_S),
    "VOKAFLOW_API_KEY_CACHE_S": "0.5",
}


class SharedLoopClient(TestClient):
    """A TestClient on the tier's one event loop: the app's async Redis connections belong
    to the loop that opened them, so every client of the app must run on that one."""

    def __init__(self, app: FastAPI, portal: BlockingPortal, **options: Any) -> None:
        super().__init__(app, raise_server_exceptions=False, **options)
        self.portal = portal

    def __enter__(self) -> SharedLoopClient:
        return self

    def __exit__(self, *args: Any) -> None:
        self.close()


@dataclass
class InProcessService:
    home: Path
    redis_url: str
    key_prefix: str = field(default_factory=lambda: f"vfapi-{uuid.uuid4().hex[:8]}")
    admin_key: str = ""
    portal: BlockingPortal | None = None
    services: Services | None = None
    app: FastAPI | None = None

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            **TEST_SETTINGS,
            **FAST_SETTINGS,
            "VOKAFLOW_HOME": str(self.home),
            "VOKAFLOW_REDIS_URL": self.redis_url,
            "VOKAFLOW_KEY_PREFIX": self.key_prefix,
        }

    def start(self, monkeypatch: pytest.MonkeyPatch, portal: BlockingPortal) -> InProcessService:
        """Builds the app as a gateway replica does, from this environment."""
        self.portal = portal
        for name, value in self.env.items():
            if name.startswith("VOKAFLOW_"):
                monkeypatch.setenv(name, value)
        settings = load_settings()
        self.admin_key = launcher.ensure_admin_key(settings, self.redis_url)
        launcher.accept_tasks(settings, self.redis_url)
        gateway_settings = settings.model_copy(
            update={"jwt_secret": launcher.jwt_secret(settings, create=True)}
        )
        self.services = Services(gateway_settings, self.redis_url)
        self.app = create_app(self.services)
        return self

    @contextmanager
    def over_http(self) -> Iterator[str]:
        """The app served by uvicorn on a free loopback port from a thread, for a client
        that speaks only HTTP (schemathesis's CLI); yields its base URL. It is an app of its
        own, as a second gateway replica is: its Redis connections open on the server's
        loop, not on the tier's."""
        assert self.services is not None, "start() first"
        app = create_app(Services(self.services.settings, self.redis_url))
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
        )
        thread = threading.Thread(target=server.run, name="api-tier-http", daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            thread.join(timeout=30)

    def scheduler_beats(self) -> None:
        """The heartbeat a live scheduler writes, so that health answers as on a whole stack."""
        assert self.services is not None and self.portal is not None, "start() first"
        heartbeat = self.services.keys.scheduler_heartbeat
        self.portal.call(self.services.redis.set, heartbeat, repr(time.time()))

    @contextmanager
    def scheduler_keeps_beating(self, every_s: float = 1.0) -> Iterator[None]:
        """Heartbeats from a thread for as long as the block runs, for a test longer than
        the stack's stale-after time (3 s) that must see health at 200."""
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(every_s):
                self.scheduler_beats()

        thread = threading.Thread(target=beat, name="api-tier-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def client(self, api_key: str | None = None, **options: Any) -> SharedLoopClient:
        assert self.app is not None and self.portal is not None, "start() first"
        key = self.admin_key if api_key is None else api_key
        client = SharedLoopClient(self.app, self.portal, **options)
        if key:
            client.headers["X-API-Key"] = key
        return client

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [VOKAFLOW, *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=check,
            timeout=120,
        )


@pytest.fixture(scope="package")
def stack(
    tmp_path_factory: pytest.TempPathFactory, tier_redis_url: str
) -> Iterator[InProcessService]:
    with (
        pytest.MonkeyPatch.context() as monkeypatch,
        anyio.from_thread.start_blocking_portal() as portal,
    ):
        service = InProcessService(tmp_path_factory.mktemp("api-home"), tier_redis_url)
        yield service.start(monkeypatch, portal)


@pytest.fixture(autouse=True)
def api_tier(stack: InProcessService, monkeypatch: pytest.MonkeyPatch) -> None:
    refuse_starting_ray(monkeypatch)
    stack.scheduler_beats()


@pytest.fixture(scope="package")
def api(stack: InProcessService) -> Iterator[SharedLoopClient]:
    with stack.client() as client:
        yield client
