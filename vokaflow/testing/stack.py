"""A whole local stack in subprocesses (`vokaflow up --detach` ... `vokaflow down`), on its own
ports and key prefix: what the integration tests and the benchmarks run against."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx
import redis

from vokaflow.runtime.loopback import SINGLE_MACHINE_ENV, reach_head_on_loopback
from vokaflow.store.embedded import redis_server_binary, start_redis_server
from vokaflow.store.redis_client import connect_sync

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
    join_ray: str = ""  # a running Ray cluster's address to attach to, instead of a new head
    # the folder `up` and `down` run in: Ray adds it to every worker's import path, and
    # the scheduler's job (`python -m`) puts it first, so it decides which code they run
    cwd: Path | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ray_address(self) -> str:
        return self.join_ray or f"127.0.0.1:{self.ray_port}"

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
        )
        env.update(self.settings)
        env.pop("RAY_ADDRESS", None)
        if self.join_ray:
            env["RAY_ADDRESS"] = self.join_ray
        elif env["RAY_AUTH_MODE"] == "disabled":
            env.update(SINGLE_MACHINE_ENV)  # its head listens on loopback only
        return env

    def init_ray(self, namespace: str | None = None) -> None:
        """Join this stack's Ray cluster from this process, as a driver."""
        import ray

        ray_env = {name: value for name, value in self.env.items() if name.startswith("RAY_")}
        os.environ.update(ray_env)  # the auth mode, its token
        if SINGLE_MACHINE_ENV.items() <= ray_env.items():
            reach_head_on_loopback()
        ray.init(address=self.ray_address, namespace=namespace, log_to_driver=False)

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [VOKAFLOW, *args],
            env=self.env,
            cwd=self.cwd,
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
            client = connect_sync(external)
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


class RedisServer:
    """A real redis-server with AOF in a folder of its own, on a fixed port across restarts."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        start_redis_server(self.folder, self.port)

    def stop(self) -> None:
        """A clean shutdown: the AOF is flushed, as on a planned restart."""
        with contextlib.suppress(redis.ConnectionError):
            redis.Redis.from_url(self.url).shutdown(nosave=False)


class LocalRedisCluster:
    """A Redis Cluster of ``masters`` redis-servers on loopback, no replicas: what the
    Redis Cluster test and drills run against."""

    def __init__(self, folder: Path, masters: int = 3) -> None:
        self.folder = folder
        self.ports: list[int] = []
        while len(self.ports) < masters:
            port = _free_cluster_port()
            if port not in self.ports:
                self.ports.append(port)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def start(self) -> None:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        for port in self.ports:
            node_dir = self.folder / str(port)
            cluster_options = {
                "cluster-enabled": "yes",
                "cluster-config-file": str(node_dir / "nodes.conf"),
                "cluster-node-timeout": "5000",
            }
            start_redis_server(node_dir, port, cluster_options)
        nodes = [f"127.0.0.1:{port}" for port in self.ports]
        create = [_redis_cli(), "--cluster", "create", *nodes, "--cluster-replicas", "0"]
        subprocess.run([*create, "--cluster-yes"], check=True, capture_output=True, timeout=60)
        client = redis.Redis(port=self.ports[0])
        deadline = time.monotonic() + 30
        while client.cluster("info").get("cluster_state") != "ok":
            assert time.monotonic() < deadline, "the cluster did not come up"
            time.sleep(0.2)

    def stop(self) -> None:
        for port in self.ports:
            with contextlib.suppress(redis.ConnectionError):
                redis.Redis(port=port).shutdown(nosave=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _free_cluster_port() -> int:
    """A free port whose cluster bus port (+10000) is free too; Redis refuses ports over
    55535. From 21000-29999: clear of Ray's worker ports (10002-19999)."""
    import random

    while True:
        port = random.randint(21_000, 29_999)
        if all(_is_free(candidate) for candidate in (port, port + 10_000)):
            return port


def _is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _redis_cli() -> str:
    """redis-cli beside the redis-server we run, else the one on PATH."""
    import shutil

    beside = Path(redis_server_binary()).with_name("redis-cli")
    return str(beside) if beside.exists() else shutil.which("redis-cli") or "redis-cli"
