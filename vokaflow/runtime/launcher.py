"""What ``vokaflow up`` and ``vokaflow down`` do, step by step."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import redis

from vokaflow.config import NAMESPACE, Settings
from vokaflow.domain import Priority
from vokaflow.errors import ConfigError
from vokaflow.private_files import write_private
from vokaflow.runtime import loopback, own_head
from vokaflow.runtime.job_secrets import RayKV, job_env, secrets_key
from vokaflow.scheduler import SCHEDULER_NAME
from vokaflow.store.api_keys import ADMIN_NAME, ApiKeyStore, KeyInfo, NameRefused, new_api_key
from vokaflow.store.embedded import EmbeddedRedis
from vokaflow.store.keys import Keys
from vokaflow.store.redis_client import connect, connect_sync
from vokaflow.store.trained_models import TrainedModels
from vokaflow.vicky.registry import ModelRegistry, UnknownModel
from vokaflow.vicky.trained import served
from vokaflow.workers.resources import node_resources


def base_url(settings: Settings) -> str:
    host = "localhost" if settings.host in ("0.0.0.0", "127.0.0.1", "::") else settings.host
    return f"http://{host}:{settings.port}"


# ---------------------------------------------------------------- Redis


def redis_url_for(settings: Settings, *, start: bool) -> str:
    """The configured Redis, or the embedded one (started when ``start``)."""
    if settings.redis_url:
        return settings.redis_url
    embedded = EmbeddedRedis(settings.home)
    url = embedded.start() if start else embedded.url()
    if url is None:
        raise ConfigError(
            "no Redis: VOKAFLOW_REDIS_URL is unset and the embedded Redis under "
            f"{embedded.dir} is not running (start it with `vokaflow up`)"
        )
    return url


async def _register_key(
    settings: Settings,
    redis_url: str,
    api_key: str,
    name: str,
    role: str,
    max_priority: Priority | None = None,
) -> None:
    await _with_key_store(
        settings,
        redis_url,
        lambda store: store.store(api_key, name, role, time.time(), max_priority),
    )


def create_api_key(
    settings: Settings, redis_url: str, name: str, role: str, max_priority: Priority | None = None
) -> str:
    api_key = new_api_key()
    try:
        asyncio.run(_register_key(settings, redis_url, api_key, name, role, max_priority))
    except NameRefused as exc:
        raise ConfigError(f"--name: {exc}") from None
    return api_key


async def _with_key_store(settings: Settings, redis_url: str, use: Any) -> Any:
    client = connect(redis_url)
    try:
        return await use(ApiKeyStore(client, Keys(settings.key_prefix, settings.partitions)))
    finally:
        await client.aclose()


def list_api_keys(settings: Settings, redis_url: str) -> list[KeyInfo]:
    keys: list[KeyInfo] = asyncio.run(
        _with_key_store(settings, redis_url, lambda store: store.all())
    )
    return keys


def revoke_api_keys(settings: Settings, redis_url: str, id_or_name: str) -> list[KeyInfo]:
    revoked: list[KeyInfo] = asyncio.run(
        _with_key_store(settings, redis_url, lambda store: store.revoke(id_or_name, time.time()))
    )
    return revoked


def ensure_admin_key(settings: Settings, redis_url: str) -> str:
    """The admin key kept in VOKAFLOW_HOME (mode 0600), registered in this Redis; a new one
    if there is none or the kept one was revoked. Names of keys from before names held one
    role are bound first."""
    asyncio.run(
        _with_key_store(settings, redis_url, lambda store: store.bind_names_of_existing_keys())
    )
    path = settings.admin_key_file
    api_key = path.read_text().strip() if path.exists() else ""
    if not api_key or asyncio.run(
        _with_key_store(settings, redis_url, lambda store: store.is_revoked(api_key))
    ):
        api_key = new_api_key()
        write_private(path, api_key + "\n")
    asyncio.run(_register_key(settings, redis_url, api_key, ADMIN_NAME, "admin"))
    return api_key


def api_key_for(settings: Settings, given: str | None) -> str:
    """The key to call the API with: ``given``, else VOKAFLOW_API_KEY, else the admin key
    `up` keeps in VOKAFLOW_HOME."""
    key = given or os.environ.get("VOKAFLOW_API_KEY")
    if not key and settings.admin_key_file.exists():
        key = settings.admin_key_file.read_text().strip()
    if not key:
        raise ConfigError("no API key: pass --api-key or set VOKAFLOW_API_KEY")
    return key


def jwt_secret(settings: Settings, *, create: bool) -> str:
    """VOKAFLOW_JWT_SECRET, else the secret kept in VOKAFLOW_HOME (mode 0600), made when
    ``create``; empty when there is none."""
    if settings.jwt_secret:
        return settings.jwt_secret
    path = settings.jwt_secret_file
    if not path.exists():
        if not create:
            return ""
        write_private(path, secrets.token_urlsafe(48) + "\n")
    return path.read_text().strip()


# ---------------------------------------------------------------- Ray


def _ray_marker(settings: Settings) -> Path:
    return settings.home / "ray_head"


def owns_ray_head(settings: Settings) -> bool:
    """Whether a Ray head that `up` started is running (`down` removes the marker)."""
    return _ray_marker(settings).exists()


def own_head_temp_dir(settings: Settings) -> Path | None:
    """Ray's temp folder (logs, sockets, metrics files) of the head `up` started, if so."""
    return own_head.temp_dir(settings.home) if _ray_marker(settings).exists() else None


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def serve_proxy_config(settings: Settings) -> dict[str, str]:
    """HAProxy in front of Serve doubled submit throughput here, and running handlers on
    the replica's own event loop cut single-connection latency by a third
    (docs/decisions.md)."""
    return {
        "RAY_SERVE_ENABLE_HA_PROXY": "1" if settings.ha_proxy else "0",
        "RAY_SERVE_RUN_USER_CODE_IN_SEPARATE_THREAD": "0",
        # Serve's own proxy (uvicorn) would take a client's X-Forwarded-For as its address
        "FORWARDED_ALLOW_IPS": "",
    }


WARM_WORKER_MODULE = "vokaflow.workers.warm"


def worker_pool_config(num_cpus: int) -> dict[str, str]:
    """Keep enough idle Ray worker processes warm for the pools' slots, each with the
    executor imported before its first task.

    Ray keeps about ``num_cpus`` idle workers and kills the rest after a second; the pools
    run more tasks than cores (num_cpus=0, custom resources), so every chunk past that
    would pay a new process start (about a second here).
    """
    return {
        "RAY_num_workers_soft_limit": str(4 * num_cpus + 4),
        "RAY_idle_worker_killing_time_threshold_ms": "30000",
        "RAY_preload_python_modules": WARM_WORKER_MODULE,
    }


def _loopback_only() -> bool:
    """Whether the head `up` starts listens on loopback only: while Ray runs without
    authentication. Other nodes may join a head with token auth."""
    return os.environ.get("RAY_AUTH_MODE", "disabled") == "disabled"


def _reach_own_head() -> None:
    """Make this process's Ray driver able to reach the head `up` started."""
    if _loopback_only():
        loopback.reach_head_on_loopback()


def head_exposure(settings: Settings) -> dict[str, str]:
    """The head's ports, and Serve's HAProxy's own ports on loopback, its files private
    (see vokaflow.runtime.loopback)."""
    env = loopback.head_env() if _loopback_only() else {}
    if settings.ha_proxy:
        from ray.serve._private.haproxy import get_haproxy_binary

        env.update(loopback.haproxy_env(get_haproxy_binary(), own_head.head_dir(settings.home)))
    return env


def head_start_command(settings: Settings, num_cpus: int) -> list[str]:
    """`ray start --head` with what `up` sets and the operator's VOKAFLOW_RAY_START_OPTIONS."""
    flags: dict[str, object] = {
        "port": settings.ray_port,
        "num-cpus": num_cpus,
        "resources": json.dumps(node_resources(num_cpus)),
        "dashboard-host": "127.0.0.1",
        "dashboard-port": settings.ray_dashboard_port,
        "temp-dir": own_head.temp_dir(settings.home),
    }
    if settings.ray_metrics_export_port:
        flags["metrics-export-port"] = settings.ray_metrics_export_port
    flags.update(settings.ray_start_options)
    command = [str(Path(sys.executable).parent / "ray"), "start", "--head", "--disable-usage-stats"]
    return command + [f"--{name}={value}" for name, value in flags.items()]


def start_ray(settings: Settings) -> str:
    """Attach to RAY_ADDRESS, or start a head node with the worker-type resources."""
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    address = os.environ.get("RAY_ADDRESS")
    if not address:
        os.environ.update(serve_proxy_config(settings))
        _reach_own_head()
        address = f"127.0.0.1:{settings.ray_port}"
        if not _port_open("127.0.0.1", settings.ray_port):
            num_cpus = settings.ray_num_cpus or os.cpu_count() or 1
            command = head_start_command(settings, num_cpus)
            own_head.make_head_dir(settings.home)
            env = {
                **os.environ,
                **worker_pool_config(num_cpus),
                **head_exposure(settings),
                **own_head.head_env(settings.home),
            }
            _ray_marker(settings).write_text(address)  # first: a failed start is cleaned up
            # a session of its own: a Ctrl-C on `up`'s terminal reaches `up` alone, which
            # drains before it stops the head
            subprocess.run(
                command, check=True, stdout=subprocess.DEVNULL, env=env, start_new_session=True
            )
    import ray

    ray.init(address=address, namespace=NAMESPACE, log_to_driver=False, configure_logging=False)
    return address


SCHEDULER_JOB_KIND = "vokaflow-scheduler"
NO_JOB_AGENT = "No available agent to submit job"
JOB_AGENT_WAIT_S = 60


def _job_client(settings: Settings) -> Any:
    from ray.job_submission import JobSubmissionClient

    url = settings.ray_dashboard_url or f"http://127.0.0.1:{settings.ray_dashboard_port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            return JobSubmissionClient(url)
        except Exception:  # the dashboard's job API comes up a few seconds after Ray
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def _scheduler_jobs(settings: Settings, client: Any, *, live_only: bool) -> list[str]:
    from ray.job_submission import JobStatus

    live = {JobStatus.PENDING, JobStatus.RUNNING}
    return [
        job.submission_id
        for job in client.list_jobs()
        if (job.metadata or {}).get("kind") == SCHEDULER_JOB_KIND
        and (job.metadata or {}).get("key_prefix") == settings.key_prefix
        and (not live_only or job.status in live)
    ]


def start_scheduler_job(settings: Settings, redis_url: str) -> None:
    """Run the scheduler's host as a Ray job, unless one already runs for this key prefix.

    The dashboard shows a job's environment, so the job gets the settings without their
    secrets and the Redis URL without its password; both in full go to Ray's internal
    key-value store (see vokaflow.runtime.job_secrets).
    """
    client = _job_client(settings)
    if _scheduler_jobs(settings, client, live_only=True):
        return
    job = dict(
        entrypoint=f"{sys.executable} -m vokaflow.runtime.host",
        submission_id=f"{SCHEDULER_JOB_KIND}-{settings.key_prefix}-{int(time.time())}",
        runtime_env={"env_vars": job_env(settings, redis_url, RayKV())},
        metadata={"kind": SCHEDULER_JOB_KIND, "key_prefix": settings.key_prefix},
        entrypoint_num_cpus=0,
    )
    deadline = time.monotonic() + JOB_AGENT_WAIT_S
    while True:
        try:
            client.submit_job(**job)
            return
        except RuntimeError as exc:
            # The head's job agent registers a little after the dashboard answers; on a
            # loaded machine a submit in between is refused with this message.
            if NO_JOB_AGENT not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(1)


def stop_scheduler_job(settings: Settings, timeout_s: float = 20.0) -> bool:
    """Stop the host job (so it re-creates nothing) and wait until it has stopped."""
    client = _job_client(settings)
    running = _scheduler_jobs(settings, client, live_only=True)
    for submission_id in running:
        client.stop_job(submission_id)
    deadline = time.monotonic() + timeout_s
    while _scheduler_jobs(settings, client, live_only=True) and time.monotonic() < deadline:
        time.sleep(0.2)
    return bool(running)


SERVE_START_TRIES = 3


def start_serve(serve: Any, settings: Settings) -> None:
    """serve.start, waiting out a proxy that Serve replaced while it started: on loaded cores
    a proxy can miss its readiness check, and Serve kills it and starts another, while
    serve.start waits on the one it killed (ActorDiedError)."""
    from ray.exceptions import ActorDiedError

    for tries_left in reversed(range(SERVE_START_TRIES)):
        try:
            serve.start(http_options={"host": settings.host, "port": settings.port})
            return
        except ActorDiedError:
            if not tries_left:
                raise
            print("Serve replaced its HTTP proxy while it started; waiting for the new one")


def deploy(settings: Settings, redis_url: str) -> None:
    # Ray Serve and the whole API load here only: the CLI's other commands stay light.
    from ray import serve

    from vokaflow.api.gateway import APP_NAME, gateway_app

    start_scheduler_job(settings, redis_url)
    gateway_settings = settings.model_copy(
        update={"jwt_secret": jwt_secret(settings, create=True), **_proxy_trust(settings)}
    )
    start_serve(serve, settings)
    app = gateway_app(gateway_settings, redis_url)
    serve.run(app, name=APP_NAME, route_prefix="/", blocking=False)
    deploy_vicky_models(settings, redis_url)


def _proxy_trust(settings: Settings) -> dict[str, object]:
    """On a head `up` started, Serve's HAProxy runs through our launcher, which sets
    X-Forwarded-For to the client's address whatever the client sent: the gateway may
    believe it from loopback, unless the operator chose its trusted proxies itself."""
    ours = owns_ray_head(settings) and settings.ha_proxy
    if not ours or "trusted_proxies" in settings.model_fields_set:
        return {}
    return {"trusted_proxies": ["127.0.0.1", "::1"]}


def deploy_vicky_models(settings: Settings, redis_url: str) -> list[str]:
    """Deploy the models in VOKAFLOW_VICKY_MODELS and every model fine-tuned earlier (of
    every principal); returns their ids, a fine-tuned model's being its internal id."""
    # Serve loads with the deployment module only, when there are models to deploy.
    from vokaflow.vicky.deployment import deploy_model

    registry = ModelRegistry()
    try:
        specs = [registry.get(model_id) for model_id in dict.fromkeys(settings.vicky_models)]
    except UnknownModel as exc:
        raise ConfigError(f"VOKAFLOW_VICKY_MODELS: {exc}") from None
    client = connect_sync(redis_url, decode_responses=True)
    try:
        keys = Keys(settings.key_prefix, settings.partitions)
        specs += served(TrainedModels(client, keys).entries())
    finally:
        client.close()
    for spec in specs:
        deploy_model(spec)
    return [spec.model_id for spec in specs]


def wait_healthy(settings: Settings, timeout_s: float = 120.0) -> None:
    url = base_url(settings) + "/api/health/"
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            reply = httpx.get(url, timeout=2.0)
            if reply.status_code == 200:
                return
            last = f"{reply.status_code} {reply.text[:200]}"
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not become healthy within {timeout_s:.0f}s (last: {last})")


def accept_tasks(settings: Settings, redis_url: str) -> None:
    """Clear the draining flag a previous `down` left."""

    connect_sync(redis_url).delete(Keys(settings.key_prefix, 1).draining)


def drain(settings: Settings, address: str | None) -> str:
    """Refuse new tasks (503), then let running ones finish, up to the grace period.

    Queued tasks stay in Redis for the next `up`; chunks still running when the grace
    period ends are stopped with Ray and run again then (a system retry).
    """
    import ray

    try:
        client = connect_sync(redis_url_for(settings, start=False))
        client.set(Keys(settings.key_prefix, 1).draining, "1")
    except (ConfigError, redis.RedisError) as exc:
        return f"not drained (no Redis: {exc})"
    if not address or not _reachable(address):
        return "nothing running to drain"
    time.sleep(1.0)  # gateways re-read the flag every 0.5 s: no submit slips past it
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(address=address, namespace=NAMESPACE, log_to_driver=False, configure_logging=False)
    try:
        scheduler = ray.get_actor(SCHEDULER_NAME, namespace=NAMESPACE)
        grace = settings.shutdown_grace_s
        still_running: int = ray.get(scheduler.drain.remote(grace), timeout=grace + 15)  # type: ignore[assignment]
    except (ValueError, ray.exceptions.RayError) as exc:
        return f"scheduler not drained ({type(exc).__name__})"
    finally:
        ray.shutdown()
    if still_running:
        return f"{still_running} chunk(s) still running after {grace:g} s; they run again on `up`"
    return "running tasks finished"


def leave_ray() -> None:
    """End this process's Ray driver, if it has one: `up` is one while it deploys, and the
    drain and the stop connect afresh (and a driver left on a head that stops would crash)."""
    if "ray" not in sys.modules:
        return
    import ray

    if ray.is_initialized():
        ray.shutdown()


def stop_everything(settings: Settings) -> list[str]:
    """Drain, then stop what ``up`` started; returns what was done."""
    leave_ray()
    stopped: list[str] = []
    marker = _ray_marker(settings)
    address = os.environ.get("RAY_ADDRESS")
    if not address and marker.exists():
        address = marker.read_text().strip()
        _reach_own_head()
    stopped.append(f"new tasks refused, {drain(settings, address)}")
    if marker.exists():
        # Our own head: stopping its processes stops Serve, the scheduler job and its actor
        # with it (Serve's own shutdown can take 30 s and more). Running tasks go back to
        # the queue on the next `up`.
        haproxy_files = own_head.haproxy_node_dirs(settings.home)
        own_head.stop_head(settings.home)
        loopback.remove_haproxy_files(haproxy_files)
        marker.unlink(missing_ok=True)
        stopped.append("ray (serve, scheduler)")
    elif address and _reachable(address):
        stopped += _stop_service_on_ray(settings, address)
    if not settings.redis_url and EmbeddedRedis(settings.home).stop():
        stopped.append("embedded redis")
    return stopped


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.split("://", 1)[-1].rpartition(":")
    return host or "127.0.0.1", int(port)


def _reachable(address: str) -> bool:
    """Whether a Ray address answers; `auto` (the local node's own cluster) is taken as yes."""
    if address == "auto":
        return True
    try:
        return _port_open(*_host_port(address))
    except ValueError:  # no port: let ray.init say what is wrong
        return True


def _stop_service_on_ray(settings: Settings, address: str) -> list[str]:
    # Ray loads only in the commands that use it; the dispatcher's module imports Ray.
    import ray
    from ray import serve

    from vokaflow.webhooks.dispatcher import DISPATCHER_NAME

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    if not ray.is_initialized():
        ray.init(address=address, namespace=NAMESPACE, log_to_driver=False, configure_logging=False)
    stopped = []
    serve.shutdown()
    stopped.append("serve")
    if stop_scheduler_job(settings):
        stopped.append("scheduler job")
    try:
        ray.kill(ray.get_actor(SCHEDULER_NAME, namespace=NAMESPACE), no_restart=True)
        stopped.append("scheduler")
    except ValueError:
        pass
    try:
        ray.kill(ray.get_actor(DISPATCHER_NAME, namespace=NAMESPACE), no_restart=True)
        stopped.append("webhook dispatcher")
    except ValueError:
        pass
    # a scheduler job that never started leaves its secrets in the cluster's store
    RayKV().delete_prefix(secrets_key(settings.key_prefix))
    ray.shutdown()
    return stopped
