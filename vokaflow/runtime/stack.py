"""A whole local stack in subprocesses (`vokaflow up --detach` ... `vokaflow down`), on its own
ports and key prefix: what the integration tests and the benchmarks run against."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx
import redis

VOKAFLOW = str(Path(sys.executable).parent / "vokaflow")


@dataclass
class LocalStack:
    home: Path
    port: int = 8799
    ray_port: int = 6391
    dashboard_port: int = 8266
    settings: dict[str, str] = field(default_factory=dict)  # extra VOKAFLOW_* values
    key_prefix: str = field(default_factory=lambda: f"vfstack-{uuid.uuid4().hex[:8]}")
    admin_key: str = ""
    redis_url: str = ""

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ray_address(self) -> str:
        return f"127.0.0.1:{self.ray_port}"

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            VOKAFLOW_HOME=str(self.home),
            VOKAFLOW_PORT=str(self.port),
            VOKAFLOW_RAY_PORT=str(self.ray_port),
            VOKAFLOW_RAY_DASHBOARD_PORT=str(self.dashboard_port),
            VOKAFLOW_KEY_PREFIX=self.key_prefix,
            RAY_AUTH_MODE=env.get("RAY_AUTH_MODE", "disabled"),
            **self.settings,
        )
        env.pop("RAY_ADDRESS", None)
        return env

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [VOKAFLOW, *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=check,
            timeout=300,
        )

    def client(self, api_key: str | None = None, **options: object) -> httpx.Client:
        key = self.admin_key if api_key is None else api_key
        headers = {"X-API-Key": key} if key else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=60.0, **options)  # type: ignore[arg-type]

    def start(self) -> LocalStack:
        up = self.cli("up", "--detach", check=False)
        if up.returncode != 0:
            self.cli("down", check=False)
            raise RuntimeError(f"vokaflow up failed:\n{up.stdout}\n{up.stderr}")
        self.admin_key = up.stdout.strip().splitlines()[-1]
        external = self.env.get("VOKAFLOW_REDIS_URL")
        self.redis_url = external or (self.home / "redis" / "url").read_text().strip()
        return self

    def stop(self) -> None:
        self.cli("down", check=False)
        external = self.env.get("VOKAFLOW_REDIS_URL")
        if external:
            client = redis.Redis.from_url(external)
            for key in client.scan_iter(match=f"{self.key_prefix}:*", count=1000):
                client.delete(key)

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
