"""A whole local stack in subprocesses (`vokaflow up --detach` ... `vokaflow down`), on its own
ports and key prefix: what the integration tests and the benchmarks run against; and the
tests' own Redis topologies (one server, a cluster, a primary with replicas and Sentinel)."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, cast

import httpx
import redis

from vokaflow.private_files import private_dir
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
    # ports of its own for what Ray and Serve otherwise fix, so that stacks run side by side
    side_ports: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.side_ports:
            self.side_ports = ports_of_its_own(self.port)

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
        env.update(self.side_ports)
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


class _StartedOrStopped:
    """Servers started by ``_start``: what a failed start had started is stopped."""

    def start(self) -> None:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError


class LocalRedisCluster(_StartedOrStopped):
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


SENTINEL_SERVICE = "vokaflow"
SENTINEL_DOWN_AFTER_MS = 1000
# also how long Sentinel waits before it may fail over again
SENTINEL_FAILOVER_TIMEOUT_MS = 4000
Address = tuple[str, int]


class LocalSentinelRedis(_StartedOrStopped):
    """A Redis primary with two replicas and one Sentinel on loopback: what the failover
    tests run against. One Sentinel with quorum 1 decides alone and calls a primary down
    after SENTINEL_DOWN_AFTER_MS: a killed primary is replaced within about two seconds.
    Two replicas, so that after a failover the new primary still has one to confirm writes
    while the old one is turned into a replica (Sentinel waits some seconds before it does
    that to a primary that is still up)."""

    def __init__(
        self, folder: Path, replicas: int = 2, down_after_ms: int = SENTINEL_DOWN_AFTER_MS
    ) -> None:
        self.folder = folder
        self.down_after_ms = down_after_ms
        self.ports = [free_port() for _ in range(1 + replicas)]
        self.sentinel_port = free_port()
        self.sentinel = redis.Redis(port=self.sentinel_port, decode_responses=True)

    @property
    def url(self) -> str:
        return f"redis+sentinel://127.0.0.1:{self.sentinel_port}/{SENTINEL_SERVICE}/0"

    def _start(self) -> None:
        primary, *replicas = self.ports
        for port in self.ports:
            start_redis_server(self.folder / str(port), port, {"pidfile": self._pidfile(port)})
        for port in replicas:
            with redis.Redis(port=port) as replica:
                replica.replicaof("127.0.0.1", primary)
        self._wait_for(lambda: self.in_sync(primary, len(replicas)), "the replicas to sync")
        self._start_sentinel(primary)
        self._wait_for(
            lambda: len(self.sentinel.sentinel_slaves(SENTINEL_SERVICE)) == len(replicas),
            "Sentinel to find the replicas",
        )

    def _start_sentinel(self, primary: int) -> None:
        folder = private_dir(self.folder / "sentinel")
        config = folder / "sentinel.conf"
        config.write_text(
            f"port {self.sentinel_port}\nbind 127.0.0.1\ndaemonize yes\ndir {folder}\n"
            f"pidfile {self._pidfile(self.sentinel_port)}\nlogfile {folder / 'sentinel.log'}\n"
            f"sentinel monitor {SENTINEL_SERVICE} 127.0.0.1 {primary} 1\n"
            f"sentinel down-after-milliseconds {SENTINEL_SERVICE} {self.down_after_ms}\n"
            f"sentinel failover-timeout {SENTINEL_SERVICE} {SENTINEL_FAILOVER_TIMEOUT_MS}\n"
        )
        subprocess.run([redis_server_binary(), str(config), "--sentinel"], check=True)
        self._wait_for(self._sentinel_answers, "Sentinel to start")

    def _sentinel_answers(self) -> bool:
        try:
            return bool(self.sentinel.ping())
        except redis.ConnectionError:
            return False

    def primary(self) -> Address:
        """The primary as clients learn it (SENTINEL MASTERS), which names the new one
        only once the failover is over."""
        state = self._primary_state()
        return str(state["ip"]), int(state["port"])

    def _primary_state(self) -> dict[str, Any]:
        masters = cast(dict[str, dict[str, Any]], self.sentinel.sentinel_masters())
        return masters[SENTINEL_SERVICE]

    def _primary_up(self) -> bool:
        state = self._primary_state()
        return bool(state["is_master"] and not state["is_sdown"] and not state["is_odown"])

    def in_sync(self, port: int, replicas: int) -> bool:
        """Whether the server on ``port`` is a primary with ``replicas`` replicas online."""
        with redis.Redis(port=port) as server:
            info = server.info("replication")
        online = [v for k, v in info.items() if k.startswith("slave") and isinstance(v, dict)]
        return info["role"] == "master" and sum(r["state"] == "online" for r in online) >= replicas

    def fail_over(self) -> Address:
        """Sentinel promotes a replica while the primary still runs (as for maintenance);
        returns the new primary once Sentinel names it and it takes writes."""
        old = self.primary()
        self._wait_for(self._failover_started, "Sentinel to accept the failover")
        return self._new_primary(old)

    def _failover_started(self) -> bool:
        try:
            return bool(self.sentinel.sentinel_failover(SENTINEL_SERVICE))
        except redis.ResponseError as exc:  # replicas it has not read INFO from yet
            if "NOGOODSLAVE" in str(exc):
                return False
            raise

    def kill_primary(self) -> Address:
        """SIGKILL the primary: Sentinel finds it down and promotes a replica."""
        old = self.primary()
        os.kill(int(Path(self._pidfile(old[1])).read_text()), signal.SIGKILL)
        return self._new_primary(old)

    def _new_primary(self, old: Address) -> Address:
        self._wait_for(
            lambda: self.primary() != old and self._primary_up(),
            "Sentinel to name a new primary",
            20,
        )
        new = self.primary()
        self._wait_for(lambda: self.in_sync(new[1], 1), "the new primary to have a replica", 20)
        return new

    def stop(self) -> None:
        self.sentinel.close()
        for port in (self.sentinel_port, *self.ports):
            pidfile = Path(self._pidfile(port))
            with contextlib.suppress(FileNotFoundError, ProcessLookupError, ValueError):
                os.kill(int(pidfile.read_text()), signal.SIGKILL)

    def _pidfile(self, port: int) -> str:
        return str(self.folder / f"{port}.pid")

    @staticmethod
    def _wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 15.0) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            with contextlib.suppress(redis.ConnectionError):
                if condition():
                    return
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.05)


# Serve's replicas each take one port for HTTP and one for gRPC from a range: a block of
# these per stack, in 20000-20999 (below the OS's ephemeral ports, above Ray's default
# worker ports, below the Redis Cluster tests' 21000-29999)
DIRECT_INGRESS_PORTS = 50


def ports_of_its_own(gateway_port: int) -> dict[str, str]:
    """The settings that give a head `up` starts ports of its own where Ray and Serve fix
    them: the dashboard agent (52365), the Ray client server (10001), workers (a range from
    10002: random instead), HAProxy's Prometheus and stats frontends (9101, 8404), Serve's
    fallback proxy (8500, 9500) and its replicas' direct-ingress ports (from 30000 and
    40000: blocks chosen by the gateway port's last digit, so that stacks whose gateway
    ports differ in it never share one)."""
    http = 20000 + (gateway_port % 10) * DIRECT_INGRESS_PORTS
    grpc = http + 10 * DIRECT_INGRESS_PORTS
    ray_start = {
        "dashboard-agent-listen-port": free_port(),
        "ray-client-server-port": free_port(),
        "min-worker-port": 0,
        "max-worker-port": 0,
    }
    serve = {
        "RAY_SERVE_HAPROXY_METRICS_PORT": free_port(),
        "RAY_SERVE_HAPROXY_STATS_PORT": free_port(),
        "RAY_SERVE_FALLBACK_PROXY_HTTP_PORT": free_port(),
        "RAY_SERVE_FALLBACK_PROXY_GRPC_PORT": free_port(),
        "RAY_SERVE_DIRECT_INGRESS_MIN_HTTP_PORT": http,
        "RAY_SERVE_DIRECT_INGRESS_MAX_HTTP_PORT": http + DIRECT_INGRESS_PORTS - 1,
        "RAY_SERVE_DIRECT_INGRESS_MIN_GRPC_PORT": grpc,
        "RAY_SERVE_DIRECT_INGRESS_MAX_GRPC_PORT": grpc + DIRECT_INGRESS_PORTS - 1,
    }
    return {
        "VOKAFLOW_RAY_START_OPTIONS": json.dumps(ray_start),
        **{name: str(port) for name, port in serve.items()},
    }


# The ports a test picks for a server that binds later: below the OS's ephemeral ports
# (32768-60999), where Ray's processes and every outgoing connection take theirs, so that
# none of them takes a picked port before its server binds it (as one of Ray's did to
# Serve's fallback proxy port in a CI run). 10002-19999 are Ray's default worker ports,
# which the stacks here replace by random ones.
PICKED_PORTS = range(10_002, 20_000)
_picked: set[int] = set()


def free_port() -> int:
    """A free port of PICKED_PORTS that this process has not handed out before."""
    while True:
        port = random.choice(PICKED_PORTS)
        if port not in _picked and _is_free(port):
            _picked.add(port)
            return port


def _free_cluster_port() -> int:
    """A free port whose cluster bus port (+10000) is free too; Redis refuses ports over
    55535. From 21000-29999: clear of Ray's worker ports (10002-19999)."""
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
