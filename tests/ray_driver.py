"""Ray calls the tests make, each from a short-lived child process.

The pytest process never joins a Ray cluster itself. Joining and leaving several Ray
sessions in one process is unsafe (ray-project/ray#31145): a Ray background thread can
outlive its session, and the process then crashes when it exits, after every test
has passed.

Run as `python -m tests.ray_driver ADDRESS OPERATION JSON_ARGUMENTS`; it prints the
operation's result as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ray
from ray.experimental import internal_kv

from vokaflow.runtime.loopback import SINGLE_MACHINE_ENV

START_S = 60  # the child's interpreter, `import ray` and ray.init, on a busy machine
REPOSITORY = Path(__file__).resolve().parents[1]


def kill_actor(name: str, namespace: str, restart: bool, at: float = 0.0) -> float:
    """Kill the named actor at the wall-clock time ``at`` (now if past); returns when it
    was killed. Joining Ray takes seconds: ask early to land the kill at a chosen moment."""
    actor = ray.get_actor(name, namespace=namespace)
    time.sleep(max(0.0, at - time.time()))
    killed_at = time.time()
    ray.kill(actor, no_restart=not restart)
    return killed_at


def ping_actor(name: str, namespace: str, timeout_s: float) -> None:
    """Wait until the named actor answers `ping`, through restarts, for `timeout_s` in all."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = max(0.1, deadline - time.monotonic())
        try:
            ray.get(ray.get_actor(name, namespace=namespace).ping.remote(), timeout=left)
            return
        except (ValueError, ray.exceptions.RayActorError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def kv_keys(prefix: str, namespace: str | None) -> list[str]:
    keys = internal_kv._internal_kv_list(prefix, namespace=namespace)
    return sorted(key.decode() for key in keys)


def kv_value(key: str, namespace: str | None) -> str | None:
    raw = internal_kv._internal_kv_get(key, namespace=namespace)
    return raw.decode() if raw is not None else None


def kv_put(key: str, value: str, namespace: str | None) -> None:
    internal_kv._internal_kv_put(key, value, namespace=namespace)


def start_scheduler_job(redis_url: str) -> None:
    """Submit the scheduler's job with the settings in this process's environment."""
    from vokaflow.config import load_settings
    from vokaflow.runtime import launcher

    launcher.start_scheduler_job(load_settings(), redis_url)


def _modules_at_start() -> list[str]:
    return sorted(name for name in sys.modules if name.startswith("vokaflow"))


def fresh_worker_modules(tag: str) -> list[str]:
    """The vokaflow modules a worker process has loaded when it starts its first task: a
    runtime environment of its own (``tag``) makes Ray start a process for it."""
    probe = ray.remote(num_cpus=0)(_modules_at_start)
    return list(ray.get(probe.options(runtime_env={"env_vars": {"PROBE": tag}}).remote()))


OPERATIONS: dict[str, Callable[..., Any]] = {
    "fresh_worker_modules": fresh_worker_modules,
    "kill_actor": kill_actor,
    "ping_actor": ping_actor,
    "kv_keys": kv_keys,
    "kv_value": kv_value,
    "kv_put": kv_put,
    "start_scheduler_job": start_scheduler_job,
}


def call(address: str, operation: str, env: dict[str, str] | None = None, **arguments: Any) -> Any:
    """Run one operation against the Ray cluster at `address` and return its result;
    `env` adds to the child's environment."""
    env = {"RAY_AUTH_MODE": "disabled", **os.environ, **(env or {})}
    if address.startswith("127.0.0.1:") and env["RAY_AUTH_MODE"] == "disabled":
        env.update(SINGLE_MACHINE_ENV)  # the head `vokaflow up` starts listens on loopback only
    command = [sys.executable, "-m", "tests.ray_driver", address, operation]
    done = subprocess.run(
        [*command, json.dumps(arguments)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPOSITORY,
        timeout=START_S + float(arguments.get("timeout_s", 0)) + _until(arguments.get("at")),
    )
    assert done.returncode == 0, f"{operation} failed: {done.stderr[-3000:]}"
    lines = done.stdout.strip().splitlines()
    assert lines, f"{operation} printed no result: {done.stderr[-3000:]}"
    return json.loads(lines[-1])


def _until(moment: float | None) -> float:
    return max(0.0, moment - time.time()) if moment else 0.0


def main(address: str, operation: str, arguments: str) -> None:
    ray.init(address=address, log_to_driver=False, logging_level="ERROR")
    try:
        result = OPERATIONS[operation](**json.loads(arguments))
    finally:
        ray.shutdown()
    print(json.dumps(result))


if __name__ == "__main__":
    main(*sys.argv[1:])
