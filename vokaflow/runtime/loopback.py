"""What keeps the Ray head that `vokaflow up` starts, and Serve's HAProxy on it, off the
network when Ray runs without authentication (RAY_AUTH_MODE=disabled, `up`'s default).

- The node's address is 127.0.0.1, which Ray accepts on Linux only in its single-machine
  mode (no other node may join): the GCS, the raylet, every worker's gRPC port, the
  dashboard agent, the runtime-env agent, the Ray client server and the metrics port then
  listen on 127.0.0.1.
- A Serve replica's inter-deployment gRPC server binds ``[::]:0`` whatever the node's
  address, and unpickles what it is sent: a worker setup hook binds it to loopback.
- Serve's HAProxy config binds its Prometheus (9101) and stats (8404) frontends to every
  interface, and no setting changes that: HAProxy is started through this module, which
  binds them to loopback (in either auth mode: they have no authentication of their own).
  Its admin socket (``level admin``, mode 666 in Ray's config) and config files live in a
  folder of this user's only, not in the shared /tmp/haproxy-serve (Serve keeps each
  node's in a subfolder named after the node's id).

Run as ``python -m vokaflow.runtime.loopback HAPROXY ARGS...``, it is that HAProxy launcher.
Imports stay light here: HAProxy starts and reloads through it.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
from pathlib import Path

# Ray's single-machine mode: it then takes 127.0.0.1 as the node's address
SINGLE_MACHINE_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}

# Short: HAProxy's sockets go in it, HAProxy takes a socket path of at most 97 bytes, and
# Serve adds a folder named after the node's id (56 characters).
RUNTIME_DIR = Path("/tmp") / f"vokaflow-{os.getuid()}"
HAPROXY_DIR = RUNTIME_DIR / "serve"


def reach_head_on_loopback() -> None:
    """Let this process's Ray driver, and the processes it starts, reach such a head: Ray
    otherwise takes 127.0.0.1 in an address for this machine's network address, where
    nothing listens."""
    from ray._private import ray_constants

    os.environ.update(SINGLE_MACHINE_ENV)
    ray_constants.ENABLE_RAY_CLUSTER = False  # read from the environment when ray was imported


def head_env() -> dict[str, str]:
    """The environment of `ray start` for a head on loopback only."""
    from ray._private import ray_constants

    return {
        **SINGLE_MACHINE_ENV,
        # the worker setup hook that runtime_env's worker_process_setup_hook sets for one
        # job's workers, here for every worker of the node
        ray_constants.WORKER_PROCESS_SETUP_HOOK_ENV_VAR: f"{__name__}.serve_replicas_on_loopback",
    }


_ANY_INTERFACE = re.compile(r"^(\[::\]|0\.0\.0\.0):")


def serve_replicas_on_loopback() -> None:
    """Worker setup hook: Serve replicas (which import it later) bind their gRPC server to
    127.0.0.1 instead of every interface."""
    from ray._common import tls_utils

    bind = tls_utils.add_port_to_grpc_server

    def bind_on_loopback(server: object, address: str) -> int:
        port: int = bind(server, _ANY_INTERFACE.sub("127.0.0.1:", address))
        return port

    tls_utils.add_port_to_grpc_server = bind_on_loopback


def haproxy_env(haproxy: str, launcher_dir: Path) -> dict[str, str]:
    """Serve's HAProxy with its files in HAPROXY_DIR, started through this module (which
    then starts ``haproxy``) by a script in ``launcher_dir``, the head's own folder."""
    private_runtime_dir()
    HAPROXY_DIR.mkdir(mode=0o700, exist_ok=True)
    launcher = launcher_dir / "haproxy"
    command = shlex.join([sys.executable, "-m", __name__, haproxy])
    launcher.write_text(f'#!/bin/sh\nexec {command} "$@"\n')
    launcher.chmod(0o700)
    return {
        "RAY_SERVE_HAPROXY_BINARY_PATH": str(launcher),
        "RAY_SERVE_HAPROXY_CONFIG_FILE_LOC": str(HAPROXY_DIR / "haproxy.cfg"),
        "RAY_SERVE_HAPROXY_SOCKET_PATH": str(HAPROXY_DIR / "admin.sock"),
        "RAY_SERVE_HAPROXY_SERVER_STATE_BASE": str(HAPROXY_DIR),
        "RAY_SERVE_HAPROXY_SERVER_STATE_FILE": str(HAPROXY_DIR / "server-state"),
        "RAY_SERVE_HAPROXY_METRICS_SOCKET_PATH": str(HAPROXY_DIR / "metrics.sock"),
        # the access log goes to syslog on 127.0.0.1:514 by default, from UDP sockets on
        # every interface; to a Unix socket path instead, where nothing listens unless the
        # operator points it at a syslog of their own
        "RAY_SERVE_HAPROXY_LOG_TARGET": os.environ.get(
            "RAY_SERVE_HAPROXY_LOG_TARGET", str(HAPROXY_DIR / "access-log.sock")
        ),
    }


def haproxy_node_dir(command_line: list[str]) -> Path | None:
    """The node's folder in HAPROXY_DIR of the HAProxy run with this command line."""
    if "-f" not in command_line[:-1]:
        return None
    folder = Path(command_line[command_line.index("-f") + 1]).parent
    return folder if folder.parent == HAPROXY_DIR else None


def remove_haproxy_files(node_dirs: list[Path]) -> None:
    """What HAProxy left in these nodes' folders, once the head they served has stopped."""
    for folder in node_dirs:
        shutil.rmtree(folder, ignore_errors=True)


def private_runtime_dir() -> None:
    """RUNTIME_DIR, this user's with mode 0700; refused if someone else made it."""
    try:
        RUNTIME_DIR.mkdir(mode=0o700)
    except FileExistsError:
        if RUNTIME_DIR.is_symlink() or RUNTIME_DIR.lstat().st_uid != os.getuid():
            raise PermissionError(f"{RUNTIME_DIR} is not this user's own folder") from None
    RUNTIME_DIR.chmod(0o700)


_SECTION = re.compile(r"^(\S+)\s*(\S*)")
_ON_LOOPBACK = {("frontend", "prometheus"), ("listen", "stats")}
_BIND_ANY = re.compile(r"^(\s*bind\s+)\*?:")
_API_FRONTEND = ("frontend", "http_frontend")


def loopback_config(config: str) -> str:
    """Serve's HAProxy config with the Prometheus and stats frontends on 127.0.0.1, the
    admin socket for this user only, and the API frontend telling the gateway who the client
    is: X-Forwarded-For set to the peer's address, whatever the client sent."""
    lines = []
    section = ("", "")
    for line in config.splitlines(keepends=True):
        start = _SECTION.match(line)
        if start:
            section = (start.group(1), start.group(2))
        if section in _ON_LOOPBACK:
            line = _BIND_ANY.sub(r"\g<1>127.0.0.1:", line)
        if line.lstrip().startswith("stats socket "):
            line = line.replace(" mode 666 ", " mode 600 ")
        lines.append(line)
        if section == _API_FRONTEND and line.lstrip().startswith("bind "):
            lines.append("    http-request set-header X-Forwarded-For %[src]\n")
    return "".join(lines)


def main(haproxy: str, *args: str) -> None:
    """Start ``haproxy`` with ``args``, its ``-f`` config put through loopback_config (as a
    file beside it). This process becomes HAProxy, so Serve's checks of its pid hold."""
    arguments = list(args)
    if "-f" in arguments:
        at = arguments.index("-f") + 1
        config = Path(arguments[at])
        rewritten = config.with_name(config.name + ".loopback")
        rewritten.write_text(loopback_config(config.read_text()))
        arguments[at] = str(rewritten)
    os.execv(haproxy, [haproxy, *arguments])


if __name__ == "__main__":
    main(*sys.argv[1:])
