"""``vokaflow up|down|status|submit|keys|token``."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx

from vokaflow.api import tokens
from vokaflow.clock import iso_event
from vokaflow.config import Settings, load_settings
from vokaflow.domain import FINISHED, Priority, TaskStatus
from vokaflow.errors import ConfigError
from vokaflow.private_files import PRIVATE_UMASK, private_dir
from vokaflow.runtime import launcher
from vokaflow.runtime.job_secrets import without_password
from vokaflow.store.api_keys import KeyInfo, NameRefused

TERMINAL = {status.value for status in FINISHED}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vokaflow", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", help="start Redis (embedded if none is set), Ray and the API")
    up.add_argument("--detach", action="store_true", help="return once the service is healthy")
    down = commands.add_parser("down", help="stop what `vokaflow up` started")
    for command in (up, down):
        command.add_argument(
            "--address",
            help="an existing Ray cluster (host:port, ray://host:10001 or auto) to deploy onto "
            "instead of starting a head; the same as setting RAY_ADDRESS",
        )

    status = commands.add_parser("status", help="print a task's status as JSON")
    status.add_argument("task_id")

    submit = commands.add_parser("submit", help="submit a task; ARGS are JSON values or strings")
    submit.add_argument("function_name")
    submit.add_argument("args", nargs="*")
    submit.add_argument("--name", help="task name (default: the function name)")
    submit.add_argument("--priority", default="NORMAL")
    submit.add_argument("--kwargs", default="{}", help="keyword arguments as a JSON object")
    submit.add_argument("--worker-type")
    submit.add_argument("--category")
    submit.add_argument("--timeout", type=int)
    when = submit.add_mutually_exclusive_group()
    when.add_argument("--delay", type=float, metavar="SECONDS", help="run it this many s from now")
    when.add_argument("--run-at", metavar="TIME", help="run it then: ISO 8601, UTC if no offset")
    submit.add_argument("--wait", action="store_true", help="wait until the task ends")
    submit.add_argument("--wait-timeout", type=float, default=600.0)

    keys = commands.add_parser("keys", help="manage API keys")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    create = key_commands.add_parser("create", help="create a key; prints it as the last line")
    create.add_argument("--name", required=True)
    create.add_argument("--admin", action="store_true", help="a key that sees every tenant")
    _max_priority_option(create)
    key_commands.add_parser("list", help="list keys (ids, names, roles; never the keys)")
    revoke = key_commands.add_parser("revoke", help="revoke a key by id, or every key of a name")
    revoke.add_argument("key", metavar="ID_OR_NAME")

    token = commands.add_parser("token", help="issue JWTs for the API")
    token_commands = token.add_subparsers(dest="token_command", required=True)
    token_create = token_commands.add_parser("create", help="print a signed JWT")
    token_create.add_argument("--sub", required=True, help="the principal it acts for")
    token_create.add_argument("--ttl", default="1h", help="lifetime: 90s, 15m, 1h, 7d")
    token_create.add_argument("--admin", action="store_true", help="a token that sees all")
    _max_priority_option(token_create)

    schedules = commands.add_parser("schedules", help="tasks submitted on a cron or interval")
    schedule_commands = schedules.add_subparsers(dest="schedules_command", required=True)
    schedule_create = schedule_commands.add_parser(
        "create", help="create a schedule of FUNCTION_NAME; ARGS are JSON values or strings"
    )
    schedule_create.add_argument("function_name")
    schedule_create.add_argument("args", nargs="*")
    timing = schedule_create.add_mutually_exclusive_group(required=True)
    timing.add_argument("--cron", help="five fields, e.g. '30 2 * * *'")
    timing.add_argument("--every", type=int, metavar="SECONDS", help="a fixed interval")
    schedule_create.add_argument("--timezone", help="IANA name for --cron (default UTC)")
    schedule_create.add_argument("--start", help="ISO 8601 time of the first possible fire")
    schedule_create.add_argument("--end", help="ISO 8601 time after which it never fires")
    schedule_create.add_argument("--missed-fires", choices=["skip", "run_latest"])
    schedule_create.add_argument("--paused", action="store_true")
    schedule_create.add_argument("--name", help="task name (default: the function name)")
    schedule_create.add_argument("--priority", default="NORMAL")
    schedule_create.add_argument("--kwargs", default="{}", help="keyword arguments as JSON")
    schedule_create.add_argument("--category")
    schedule_create.add_argument("--timeout", type=int)
    schedule_list = schedule_commands.add_parser("list", help="list your schedules")
    schedule_list.add_argument("--limit", type=int, default=100)
    schedule_list.add_argument("--offset", type=int, default=0)
    by_id = [
        schedule_commands.add_parser(name, help=text)
        for name, text in (
            ("show", "a schedule with its next fire times and latest runs"),
            ("pause", "stop firing until resumed"),
            ("resume", "fire again from the next fire time after now"),
            ("delete", "delete a schedule (its tasks stay)"),
        )
    ]
    for sub in by_id:
        sub.add_argument("schedule_id")

    for sub in (status, submit, schedule_create, schedule_list, *by_id):
        sub.add_argument("--url", help="base URL (default: VOKAFLOW_URL, else the local service)")
        sub.add_argument(
            "--api-key", help="API key (default: VOKAFLOW_API_KEY, else the admin key)"
        )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if getattr(args, "address", None):
        os.environ["RAY_ADDRESS"] = args.address
    try:
        settings = load_settings()
        handler = {
            "up": cmd_up,
            "down": cmd_down,
            "token": cmd_token,
            "status": cmd_status,
            "submit": cmd_submit,
            "keys": cmd_keys,
            "schedules": cmd_schedules,
        }[args.command]
        return handler(settings, args)
    except ConfigError as exc:
        print(f"vokaflow: {exc}", file=sys.stderr)
        return 2
    except (httpx.HTTPError, TimeoutError) as exc:
        print(f"vokaflow: {exc}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as exc:
        print(
            f"vokaflow: `{' '.join(exc.cmd[:3])} ...` failed with exit code {exc.returncode}",
            file=sys.stderr,
        )
        return 1
    except BrokenPipeError:
        # The reader went away (`vokaflow schedules list | head`): stop quietly, and keep
        # Python from failing again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


# ---------------------------------------------------------------- service lifecycle


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM while `up` was still starting the service."""


class StopSignals:
    """SIGINT and SIGTERM ask a foreground `up` to stop. While it starts the service they
    interrupt the start; afterwards they only set a flag, so a second Ctrl-C cannot cut
    the stop short."""

    def __init__(self) -> None:
        self.received = False
        self.interrupting = True
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)

    def _on_signal(self, _signum: int, _frame: Any) -> None:
        first = not self.received
        self.received = True
        if self.interrupting and first:
            raise Interrupted

    def wait(self, still_up: Callable[[], bool]) -> bool:
        """True on a signal; False when `vokaflow down` stopped the service meanwhile."""
        while not self.received:
            if not still_up():
                return False
            time.sleep(0.5)
        return True


def cmd_up(settings: Settings, args: argparse.Namespace) -> int:
    """A failed or interrupted start stops what it started (as `down`); a foreground `up`
    stops everything on Ctrl-C or SIGTERM and exits 0, as a stop asked for is no failure."""
    # what up starts (Redis, Ray, and Ray's workers through it) inherits the umask: the
    # tasks' files, the AOF and Ray's logs are the service user's only
    os.umask(PRIVATE_UMASK)
    private_dir(settings.home)
    signals = StopSignals()
    try:
        admin_key = _start_service(settings)
        signals.interrupting = False  # from here on, a signal is a request to stop
    except BaseException as exc:
        signals.interrupting = False
        print("Stopping what `up` started ...", file=sys.stderr, flush=True)
        print("Stopped: " + ", ".join(launcher.stop_everything(settings)), file=sys.stderr)
        if isinstance(exc, Interrupted):
            return 130
        raise
    print(f"VokaFlow is up at {launcher.base_url(settings)}")
    print(f"Console: {launcher.base_url(settings)}/console (sign in with a key below)")
    print(f"Admin API key (also in {settings.admin_key_file}):")
    print(admin_key, flush=True)
    if args.detach:
        return 0
    print("Press Ctrl-C to stop.", flush=True)
    own_head = launcher.owns_ray_head(settings)
    if signals.wait(lambda: not own_head or launcher.owns_ray_head(settings)):
        print("Stopping ...", flush=True)
        print("Stopped: " + ", ".join(launcher.stop_everything(settings)), flush=True)
    else:
        print("Stopped by `vokaflow down`.")
    return 0


def _start_service(settings: Settings) -> str:
    """Redis, the admin key, Ray, the gateway, scheduler and models; returns the admin key."""
    redis_url = launcher.redis_url_for(settings, start=True)
    print(f"Redis: {_redacted(redis_url)}", flush=True)
    admin_key = launcher.ensure_admin_key(settings, redis_url)
    launcher.accept_tasks(settings, redis_url)
    address = launcher.start_ray(settings)
    print(f"Ray: {address} (dashboard http://127.0.0.1:{settings.ray_dashboard_port})", flush=True)
    if temp_dir := launcher.own_head_temp_dir(settings):
        print(f"Ray's temp folder: {temp_dir}", flush=True)
    launcher.deploy(settings, redis_url)
    launcher.wait_healthy(settings)
    launcher.leave_ray()  # what runs is detached; `up` needs no driver to wait
    return admin_key


def cmd_down(settings: Settings, _args: argparse.Namespace) -> int:
    stopped = launcher.stop_everything(settings)
    print("Stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    return 0


def _max_priority_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-priority",
        type=_priority_named,
        metavar="LEVEL",
        help="the most urgent priority its tasks may have (default: any); "
        + ", ".join(p.value for p in Priority),
    )


def _priority_named(text: str) -> Priority:
    try:
        return Priority(text.upper())
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a priority") from None


def cmd_keys(settings: Settings, args: argparse.Namespace) -> int:
    redis_url = launcher.redis_url_for(settings, start=False)
    if args.keys_command == "list":
        return _list_keys(launcher.list_api_keys(settings, redis_url))
    if args.keys_command == "revoke":
        revoked = launcher.revoke_api_keys(settings, redis_url, args.key)
        for info in revoked:
            print(f"Revoked {info.role} key {info.key_id} ('{info.name}')")
        if not revoked:
            print(f"No live key has the id or name '{args.key}'", file=sys.stderr)
        return 0 if revoked else 1
    role = "admin" if args.admin else "user"
    api_key = launcher.create_api_key(settings, redis_url, args.name, role, args.max_priority)
    cap = f", priorities {args.max_priority.value} and below" if args.max_priority else ""
    print(f"Created {role} key '{args.name}'{cap}. It is shown once:")
    print(api_key)
    return 0


def _list_keys(infos: list[KeyInfo]) -> int:
    print(f"{'ID':<14}{'NAME':<20}{'ROLE':<7}{'MAX PRIORITY':<14}{'CREATED (UTC)':<21}STATE")
    for info in infos:
        created = iso_event(info.created_at) or ""
        cap = info.max_priority.value if info.max_priority else "any"
        state = f"revoked {iso_event(info.revoked_at)}" if info.revoked_at else "active"
        print(f"{info.key_id:<14}{info.name:<20}{info.role:<7}{cap:<14}{created[:19]:<21}{state}")
    return 0


TTL_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_ttl(text: str) -> float:
    """'90s', '15m', '1h', '7d' (or plain seconds) as seconds."""
    number, unit = (text[:-1], text[-1]) if text[-1:] in TTL_UNITS else (text, "s")
    try:
        seconds = float(number) * TTL_UNITS[unit]
    except ValueError:
        raise ConfigError(f"--ttl: '{text}' is not a duration such as 90s, 15m, 1h or 7d") from None
    if seconds <= 0:
        raise ConfigError("--ttl must be positive")
    return seconds


def cmd_token(settings: Settings, args: argparse.Namespace) -> int:
    secret = launcher.jwt_secret(settings, create=False)
    if not secret:
        raise ConfigError(
            f"no JWT secret: set VOKAFLOW_JWT_SECRET or run `vokaflow up` once "
            f"(it keeps one in {settings.jwt_secret_file})"
        )
    role = "admin" if args.admin else "user"
    try:
        ttl_s = parse_ttl(args.ttl)
        print(tokens.issue(settings, secret, args.sub, ttl_s, role, args.max_priority))
    except (tokens.TtlTooLong, NameRefused) as exc:
        raise ConfigError(str(exc)) from None
    return 0


# ---------------------------------------------------------------- API calls


def _client(settings: Settings, args: argparse.Namespace) -> httpx.Client:
    url = args.url or os.environ.get("VOKAFLOW_URL") or launcher.base_url(settings)
    api_key = launcher.api_key_for(settings, args.api_key)
    return httpx.Client(base_url=url, headers={"X-API-Key": api_key}, timeout=30.0)


def _print_reply(reply: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = reply.json()
    print(json.dumps(body, indent=2, ensure_ascii=False))
    return body


def cmd_status(settings: Settings, args: argparse.Namespace) -> int:
    with _client(settings, args) as client:
        reply = client.get(f"/api/high-scale-tasks/status/{args.task_id}")
        _print_reply(reply)
        return 0 if reply.is_success else 1


def _parse_arg(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def cmd_submit(settings: Settings, args: argparse.Namespace) -> int:
    body = _task_body(args, ("worker_type", "category", "timeout", "run_at"))
    if args.delay is not None:
        body["delay_seconds"] = args.delay
    with _client(settings, args) as client:
        reply = client.post("/api/high-scale-tasks/submit", json=body)
        if not reply.is_success or not args.wait:
            _print_reply(reply)
            return 0 if reply.is_success else 1
        task_id = reply.json()["task_id"]
        deadline = time.monotonic() + args.wait_timeout
        while True:
            status = client.get(f"/api/high-scale-tasks/status/{task_id}").json()
            if status.get("status") in TERMINAL or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        print(json.dumps(status, indent=2, ensure_ascii=False))
        return 0 if status.get("status") == TaskStatus.COMPLETED else 1


def cmd_schedules(settings: Settings, args: argparse.Namespace) -> int:
    command = args.schedules_command
    with _client(settings, args) as client:
        if command == "create":
            reply = client.post("/api/schedules", json=_schedule_body(args))
        elif command == "list":
            page = {"limit": args.limit, "offset": args.offset}
            reply = client.get("/api/schedules", params=page)
        elif command == "show":
            reply = client.get(f"/api/schedules/{args.schedule_id}")
        elif command == "delete":
            reply = client.delete(f"/api/schedules/{args.schedule_id}")
        else:  # pause, resume
            reply = client.post(f"/api/schedules/{args.schedule_id}/{command}")
        _print_reply(reply)
        return 0 if reply.is_success else 1


def _task_body(args: argparse.Namespace, optional: tuple[str, ...]) -> dict[str, Any]:
    """The task of `submit` or `schedules create`, with those ``optional`` fields given."""
    task: dict[str, Any] = {
        "name": args.name or args.function_name,
        "function_name": args.function_name,
        "args": [_parse_arg(a) for a in args.args],
        "kwargs": json.loads(args.kwargs),
        "priority": args.priority,
    }
    for field in optional:
        if getattr(args, field) is not None:
            task[field] = getattr(args, field)
    return task


def _schedule_body(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {"task": _task_body(args, ("category", "timeout"))}
    if args.cron is not None:
        body["cron"] = args.cron
    if args.every is not None:
        body["interval_seconds"] = args.every
    for field in ("timezone", "start", "end", "missed_fires"):
        if getattr(args, field) is not None:
            body[field] = getattr(args, field)
    if args.paused:
        body["paused"] = True
    return body


def _redacted(url: str) -> str:
    if "@" not in url:
        return without_password(url)
    scheme, _, rest = url.partition("://")
    return without_password(f"{scheme}://***@{rest.split('@', 1)[1]}")


if __name__ == "__main__":
    sys.exit(main())
