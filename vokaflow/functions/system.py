"""``system`` functions: node health, cache and log housekeeping, state backups.

Housekeeping touches only what the service owns: files under ``<first data root>/tmp`` and
``/results``, log files under VOKAFLOW_HOME, and Redis keys under the service's key prefix
(found with SCAN, never KEYS). A Redis change that must not race the scheduler (giving a
finished task record its retention TTL) is made by a Lua script that checks and acts at once.
"""

from __future__ import annotations

import base64
import contextlib
import glob
import gzip
import json
import os
import platform
import re
import shutil
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import psutil
from pydantic import Field

from vokaflow.domain import FINISHED
from vokaflow.functions.data_roots import PRINCIPALS_FOLDER
from vokaflow.functions.registry import function
from vokaflow.private_files import open_private
from vokaflow.schemas import WorkerType

if TYPE_CHECKING:
    import redis

    from vokaflow.config import Settings
    from vokaflow.store.keys import Keys

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

SCAN_PAGE = 500
CLEANED_FOLDERS = ("tmp", "results")
BACKUP_FORMAT = "vokaflow-backup"
BACKUP_SUFFIX = ".rdbdump"
TERMINAL_STATUSES = tuple(status.value for status in FINISHED)

Slug = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]


@function(
    category="system",
    description="Reports the health of the worker node that runs it",
    estimated_duration="<1 second",
)
def health_check() -> dict[str, Any]:
    memory = psutil.virtual_memory()
    return {
        "status": "healthy",
        "hostname": socket.gethostname(),
        "pid": os.getpid(),
        "python": platform.python_version(),
        "cpu_count": psutil.cpu_count(),
        "load_average": list(os.getloadavg()),
        "memory_percent": memory.percent,
        "memory_available_bytes": memory.available,
    }


# --- where the service lives -----------------------------------------------------------


@dataclass(frozen=True)
class _Service:
    settings: Settings
    redis_url: str | None

    @property
    def keys(self) -> Keys:
        from vokaflow.store.keys import Keys

        return Keys(self.settings.key_prefix, self.settings.partitions)

    def redis(self, *, raw: bool = False) -> redis.Redis | None:
        """A client of its own (``raw``: values as bytes, for DUMP); None without a Redis."""
        if self.redis_url is None:
            return None
        from vokaflow.store.redis_client import connect_sync

        return connect_sync(self.redis_url, decode_responses=not raw, socket_timeout=30.0)


def _service() -> _Service:
    """The running task's settings and Redis; outside a task, the environment's (and the
    embedded Redis of VOKAFLOW_HOME if one runs)."""
    from vokaflow.workers.context import current_task

    task = current_task()
    if task is not None:
        return _Service(task.settings, task.env.redis_url)
    from vokaflow.config import load_settings
    from vokaflow.store.embedded import EmbeddedRedis

    settings = load_settings()
    return _Service(settings, settings.redis_url or EmbeddedRedis(settings.home).url())


def _batches(items: Iterator[Any], size: int = SCAN_PAGE) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# --- cache_cleanup ---------------------------------------------------------------------


def remove_old_files(
    root: Path, folders: tuple[str, ...], cutoff_s: float, dry_run: bool
) -> dict[str, Any]:
    """Files (and then empty folders) last modified before ``cutoff_s`` under each
    ``root/folder``; a folder that is a symlink leading out of ``root`` is left alone."""
    found = {"files_removed": 0, "bytes_freed": 0, "folders_removed": 0}
    for name in folders:
        top = root / name
        if not top.is_dir() or not top.resolve().is_relative_to(root.resolve()):
            continue
        for folder, subfolders, files in os.walk(top, topdown=False):
            for file_name in files:
                _remove_if_old(Path(folder) / file_name, cutoff_s, dry_run, found)
            for subfolder in subfolders:
                _remove_folder_if_old_and_empty(Path(folder) / subfolder, cutoff_s, dry_run, found)
    return found


def principal_folders(root: Path) -> list[Path]:
    """The principals' own folders of ``root``, each with its tmp and results; a link there
    is left alone."""
    parent = root / PRINCIPALS_FOLDER
    if not parent.is_dir() or parent.is_symlink():
        return []
    return sorted(p for p in parent.iterdir() if p.is_dir() and not p.is_symlink())


def _remove_if_old(path: Path, cutoff_s: float, dry_run: bool, found: dict[str, Any]) -> None:
    try:
        info = path.lstat()  # a symlink's own age and size: never its target's
        if info.st_mtime >= cutoff_s:
            return
        if not dry_run:
            path.unlink()
    except FileNotFoundError:  # removed meanwhile by someone else
        return
    found["files_removed"] += 1
    found["bytes_freed"] += info.st_size


def _remove_folder_if_old_and_empty(
    path: Path, cutoff_s: float, dry_run: bool, found: dict[str, Any]
) -> None:
    # A new empty folder may be one a task is about to write into: only old ones go.
    with contextlib.suppress(OSError):
        if path.is_symlink() or path.lstat().st_mtime >= cutoff_s or any(path.iterdir()):
            return
        if not dry_run:
            path.rmdir()
        found["folders_removed"] += 1


# Both scripts check and act in one step: the scheduler may requeue or finish the task in
# between otherwise, and a queued record given a TTL would vanish with its task.
EXPIRE_FINISHED_RECORD = """
if redis.call('PTTL', KEYS[1]) ~= -1 then return 0 end
local status = redis.call('HGET', KEYS[1], 'status')
for i = 3, #ARGV do
  if status == ARGV[i] then
    if ARGV[2] ~= '1' then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
    return 1
  end
end
return 0
"""

# KEYS[1] a task's log list, KEYS[2] its record (same slot). 2: orphan deleted, 1: expires.
EXPIRE_FINISHED_LOG = """
if redis.call('PTTL', KEYS[1]) ~= -1 then return 0 end
if redis.call('EXISTS', KEYS[2]) == 0 then
  if ARGV[2] ~= '1' then redis.call('DEL', KEYS[1]) end
  return 2
end
local status = redis.call('HGET', KEYS[2], 'status')
local ttl = redis.call('PTTL', KEYS[2])
if ttl < 0 then ttl = tonumber(ARGV[1]) end
if ttl <= 0 then return 0 end
for i = 3, #ARGV do
  if status == ARGV[i] then
    if ARGV[2] ~= '1' then redis.call('PEXPIRE', KEYS[1], ttl) end
    return 1
  end
end
return 0
"""


def _task_ids(client: redis.Redis, keys: Keys, kind: str) -> Iterator[list[str]]:
    """Pages of the ids of the tasks that have a key of ``kind`` (``task``: a record,
    ``log``: a log list), from SCAN; a key that only looks like one is skipped."""
    pattern = re.compile(rf"^{re.escape(keys.prefix)}:\{{p\d+\}}:{kind}:(.+)$")
    key_of = keys.task if kind == "task" else keys.task_log
    for batch in _batches(client.scan_iter(match=f"{keys.prefix}:{{p*}}:{kind}:*", count=1000)):
        found = (pattern.match(key) for key in batch)
        yield [m.group(1) for m in found if m is not None and key_of(m.group(1)) == m.group(0)]


def _expire_finished_records(
    client: redis.Redis, keys: Keys, retention_ms: int, dry: str
) -> dict[str, int]:
    counts = {"records_scanned": 0, "records_expired": 0}
    for ids in _task_ids(client, keys, "task"):
        pipe = client.pipeline(transaction=False)
        for task_id in ids:
            script_args = (retention_ms, dry, *TERMINAL_STATUSES)
            pipe.execute_command(
                "EVAL", EXPIRE_FINISHED_RECORD, 1, keys.task(task_id), *script_args
            )
        counts["records_scanned"] += len(ids)
        counts["records_expired"] += sum(int(n) for n in pipe.execute())
    return counts


def _expire_finished_logs(
    client: redis.Redis, keys: Keys, retention_ms: int, dry: str
) -> dict[str, int]:
    counts = {"logs_scanned": 0, "logs_expired": 0, "logs_deleted": 0}
    for ids in _task_ids(client, keys, "log"):
        pipe = client.pipeline(transaction=False)
        for task_id in ids:
            both = (keys.task_log(task_id), keys.task(task_id))
            script_args = (retention_ms, dry, *TERMINAL_STATUSES)
            pipe.execute_command("EVAL", EXPIRE_FINISHED_LOG, 2, *both, *script_args)
        outcomes = [int(n) for n in pipe.execute()]
        counts["logs_scanned"] += len(ids)
        counts["logs_expired"] += outcomes.count(1)
        counts["logs_deleted"] += outcomes.count(2)
    return counts


def tidy_redis(client: redis.Redis, keys: Keys, retention_s: int, dry_run: bool) -> dict[str, int]:
    """Finished task records and their logs that lack the retention TTL get it, logs of
    records that are gone are deleted, and dead letters whose records are gone are dropped.
    No other key is touched."""
    retention_ms, dry = retention_s * 1000, "1" if dry_run else "0"
    counts = {"records_scanned": 0, "records_expired": 0}
    if retention_ms:  # 0: the service keeps finished records forever on purpose
        counts = _expire_finished_records(client, keys, retention_ms, dry)
    return {
        **counts,
        **_expire_finished_logs(client, keys, retention_ms, dry),
        "dead_letters_dropped": _drop_orphan_dead_letters(client, keys, dry_run),
    }


def _drop_orphan_dead_letters(client: redis.Redis, keys: Keys, dry_run: bool) -> int:
    """A dead letter whose record has gone cannot be requeued or read: it is only noise."""
    dropped = 0
    for partition in range(keys.partitions):
        dead = keys.dead_letters(partition)
        for batch in _batches(client.zscan_iter(dead, count=1000)):
            ids = [str(task_id) for task_id, _ in batch]
            pipe = client.pipeline(transaction=False)
            for task_id in ids:
                pipe.exists(keys.task(task_id))
            gone = [
                task_id for task_id, there in zip(ids, pipe.execute(), strict=True) if not there
            ]
            if gone and not dry_run:
                client.zrem(dead, *gone)
            dropped += len(gone)
    return dropped


@function(
    admin_only=True,
    category="system",
    description="Removes old temporary and result files and expires leftover Redis task keys",
    estimated_duration="1-30 seconds",
)
def cache_cleanup(
    older_than_hours: Annotated[float, Field(ge=0, le=24 * 365 * 10)] = 24,
    dry_run: bool = False,
) -> dict[str, Any]:
    service = _service()
    cutoff_s = time.time() - older_than_hours * 3600
    root = service.settings.data_root_paths[0]
    tops = [root, *principal_folders(root)]
    files = {"files_removed": 0, "bytes_freed": 0, "folders_removed": 0}
    for top in tops:
        for count, n in remove_old_files(top, CLEANED_FOLDERS, cutoff_s, dry_run).items():
            files[count] += n
    client = service.redis()
    redis_counts = None
    if client is not None:
        with contextlib.closing(client):
            retention_s = service.settings.task_retention_s
            redis_counts = tidy_redis(client, service.keys, retention_s, dry_run)
    return {
        "dry_run": dry_run,
        "older_than_hours": older_than_hours,
        "folders": [str(top / name) for top in tops for name in CLEANED_FOLDERS],
        **files,
        "redis": redis_counts,
    }


# --- log_rotation ----------------------------------------------------------------------


def log_files(home: Path) -> list[Path]:
    """The service's log files: ``<home>/logs/*.log`` (where an operator points `vokaflow
    up`'s output), and the embedded Redis's log."""
    found = sorted((home / "logs").glob("*.log")) + sorted((home / "redis").glob("*.log"))
    return [path for path in found if path.is_file() and not path.is_symlink()]


def rotated_name(path: Path, number: int) -> Path:
    return path.with_name(f"{path.name}.{number}.gz")


def rotate_file(path: Path, keep: int) -> int:
    """``name`` -> ``name.1.gz``, ``name.1.gz`` -> ``name.2.gz`` ..., ``keep`` of them; the
    file is copied and truncated in place, so a writer holding it open goes on writing to
    it (lines written during the copy itself can be lost). Returns the bytes rotated."""
    for stale in path.parent.glob(f"{glob.escape(path.name)}.*.gz"):
        suffix = stale.name[len(path.name) + 1 : -len(".gz")]
        if suffix.isdigit() and int(suffix) >= keep:
            stale.unlink()
    for number in range(keep - 1, 0, -1):
        older = rotated_name(path, number)
        if older.exists():
            older.replace(rotated_name(path, number + 1))
    partial = path.with_name(f".{path.name}.rotating.gz")
    with path.open("rb") as source, gzip.open(partial, "wb") as target:
        shutil.copyfileobj(source, target)
        copied = source.tell()
    partial.replace(rotated_name(path, 1))
    os.truncate(path, 0)
    return copied


def rotate_logs(files: list[Path], max_bytes: int, keep: int) -> list[dict[str, Any]]:
    rotated = []
    for path in files:
        if path.stat().st_size > max_bytes:
            rotated.append({"path": str(path), "bytes": rotate_file(path, keep)})
    return rotated


def trim_log_streams(client: redis.Redis, keys: Keys) -> dict[str, int]:
    """Each log stream back to its cap (approximately: whole stream nodes go), as the
    writers do on every append; returns the entries removed per stream."""
    from vokaflow.store.logs import OWNER_LOG_MAX_LEN, SYSTEM_LOG_MAX_LEN

    caps = {keys.system_log: SYSTEM_LOG_MAX_LEN, keys.task_event_log: SYSTEM_LOG_MAX_LEN}
    owners = client.scan_iter(match=keys.owner_log("*"), count=1000, _type="stream")
    caps.update({str(stream): OWNER_LOG_MAX_LEN for stream in owners})
    return {
        stream: int(client.xtrim(stream, maxlen=cap, approximate=True))
        for stream, cap in caps.items()
    }


RAY_SESSION_SETTLE_S = 600.0
RAY_SESSION = re.compile(r"(/[^\s=]*/session_\d{4}-\d{2}-\d{2}_[^/\s]+)")


def live_ray_sessions() -> set[Path]:
    """Ray session folders that a running process names on its command line (each raylet,
    GCS server and dashboard does): those of this cluster and of any other on the machine
    whose processes this one can see."""
    live: set[Path] = set()
    for process in psutil.process_iter(["cmdline"]):
        for argument in process.info["cmdline"] or []:
            live.update(Path(found) for found in RAY_SESSION.findall(argument))
    return live


def _last_change(session: Path) -> float:
    """The newest change to the folder or to its logs: a cluster whose processes are out of
    sight (another container sharing the folder) still writes its logs."""
    stamps = [session.stat().st_mtime]
    with contextlib.suppress(OSError):
        stamps += [entry.stat().st_mtime for entry in (session / "logs").iterdir()]
    return max(stamps)


def ended_ray_sessions(temp_dir: Path, live: set[Path], keep: int) -> list[Path]:
    """The session folders under ``temp_dir`` that no process uses, but the newest ``keep``
    of them (a session's name starts with its start time, so names sort by age). A folder
    or log changed in the last RAY_SESSION_SETTLE_S may belong to a cluster still running
    or starting."""
    settled_before = time.time() - RAY_SESSION_SETTLE_S
    sessions = sorted(
        path for path in temp_dir.glob("session_2*") if path.is_dir() and not path.is_symlink()
    )
    ended = [path for path in sessions if path not in live]
    candidates = ended[: max(0, len(ended) - keep)]
    return [path for path in candidates if _last_change(path) < settled_before]


def _folder_bytes(folder: Path) -> int:
    total = 0
    for path in folder.rglob("*"):
        with contextlib.suppress(OSError):  # a file gone or unreadable meanwhile
            total += path.stat().st_size if path.is_file() else 0
    return total


def remove_ended_ray_sessions(keep: int) -> list[dict[str, Any]]:
    """Ray rotates the logs of a running session itself; a session that ended keeps its
    folder (logs, spilled objects) until someone removes it. Lists what is really gone."""
    live = live_ray_sessions()
    temp_dirs = {path.parent for path in live} or {Path("/tmp/ray")}
    removed = []
    for temp_dir in sorted(temp_dirs):
        for session in ended_ray_sessions(temp_dir, live, keep):
            size = _folder_bytes(session)
            shutil.rmtree(session, ignore_errors=True)
            if not session.exists():
                removed.append({"path": str(session), "bytes": size})
    return removed


@function(
    admin_only=True,
    category="system",
    description="Rotates and gzips the service's log files, trims its Redis log streams "
    "and removes the folders of ended Ray sessions",
    estimated_duration="<10 seconds",
)
def log_rotation(
    max_bytes: Annotated[int, Field(ge=1)] = 10 * 1024 * 1024,
    keep: Annotated[int, Field(ge=1, le=100)] = 5,
    ray_sessions_kept: Annotated[int, Field(ge=0, le=100)] = 3,
) -> dict[str, Any]:
    service = _service()
    rotated = rotate_logs(log_files(service.settings.home), max_bytes, keep)
    client = service.redis()
    trimmed = None
    if client is not None:
        with contextlib.closing(client):
            trimmed = trim_log_streams(client, service.keys)
    return {
        "rotated": rotated,
        "kept": keep,
        "streams_trimmed": trimmed,
        "ray_sessions_removed": remove_ended_ray_sessions(ray_sessions_kept),
    }


# --- backup_state ----------------------------------------------------------------------


def backup_header(prefix: str, created_at: float) -> dict[str, Any]:
    return {"format": BACKUP_FORMAT, "version": 1, "prefix": prefix, "created_at": created_at}


def backup_line(key: bytes, value: bytes, expires_at_ms: int | None) -> str:
    """One key as a JSON line: name and DUMP payload in base64, absolute expiry or null."""
    entry = {
        "key": base64.b64encode(key).decode(),
        "value": base64.b64encode(value).decode(),
        "expires_at_ms": expires_at_ms,
    }
    return json.dumps(entry, separators=(",", ":"))


@dataclass(frozen=True)
class BackupEntry:
    key: bytes
    value: bytes  # a DUMP payload
    expires_at_ms: int | None


def read_backup(path: str | Path) -> tuple[dict[str, Any], list[BackupEntry]]:
    """The header and the keys of a backup; a file cut short (no trailer) is an error."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    if not lines or json.loads(lines[0]).get("format") != BACKUP_FORMAT:
        raise ValueError(f"{path} is not a VokaFlow backup")
    header, body = json.loads(lines[0]), [json.loads(line) for line in lines[1:]]
    if not body or body[-1].get("end") is not True or body[-1]["keys"] != len(body) - 1:
        raise ValueError(f"{path} is incomplete: the backup did not finish")
    entries = [
        BackupEntry(base64.b64decode(e["key"]), base64.b64decode(e["value"]), e["expires_at_ms"])
        for e in body[:-1]
    ]
    return header, entries


def renamed(key: bytes, old_prefix: str, new_prefix: str) -> bytes:
    """The key under ``new_prefix``; its hash tag, and so its slot, are after the prefix."""
    head = f"{old_prefix}:".encode()
    if not key.startswith(head):
        raise ValueError(f"key {key!r} is not under the prefix {old_prefix!r}")
    return f"{new_prefix}:".encode() + key[len(head) :]


def restore_backup(
    path: str | Path, client: redis.Redis, prefix: str | None = None, replace: bool = True
) -> dict[str, int]:
    """RESTORE every key of a backup, under ``prefix`` (default: the one it was taken
    from); keys whose expiry has passed are skipped. Not a task: restoring overwrites the
    live state, so it is an operator's deliberate step (or a test's)."""
    header, entries = read_backup(path)
    target = prefix or header["prefix"]
    restored = expired = 0
    now_ms = int(time.time() * 1000)
    for batch in _batches(iter(entries)):
        pipe = client.pipeline(transaction=False)
        for entry in batch:
            ttl_ms = 0 if entry.expires_at_ms is None else entry.expires_at_ms - now_ms
            if entry.expires_at_ms is not None and ttl_ms <= 0:
                expired += 1
                continue
            key = renamed(entry.key, header["prefix"], target)
            pipe.restore(key, ttl_ms, entry.value, replace=replace)
            restored += 1
        pipe.execute()
    return {"keys": restored, "expired": expired}


def dump_keys(client: redis.Redis, prefix: str, write: Any) -> int:
    """DUMP and PTTL of every key under ``prefix``, a page at a time; a key that expires
    between SCAN and DUMP is left out. Returns how many were written."""
    from vokaflow import report_progress

    written = 0
    for batch in _batches(client.scan_iter(match=f"{prefix}:*", count=1000)):
        pipe = client.pipeline(transaction=False)
        for key in batch:
            pipe.dump(key)
            pipe.pttl(key)
        replies = pipe.execute()
        now_ms = int(time.time() * 1000)
        for key, value, ttl in zip(batch, replies[::2], replies[1::2], strict=True):
            if value is None:
                continue
            write(backup_line(key, value, now_ms + ttl if ttl >= 0 else None) + "\n")
            written += 1
        report_progress(None, keys=written)
    return written


@function(
    admin_only=True,
    category="system",
    worker_type=WorkerType.IO_INTENSIVE,
    description="Writes every Redis key of the service (DUMP + TTL) to a backup file",
    estimated_duration="1-60 seconds",
)
def backup_state(label: Slug = "manual") -> dict[str, Any]:
    from vokaflow.functions.data_roots import output_file

    service = _service()
    client = service.redis(raw=True)
    if client is None:
        raise RuntimeError("no Redis to back up: set VOKAFLOW_REDIS_URL or run it as a task")
    created_at = time.time()
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(created_at))
    millis = int(created_at * 1000) % 1000
    path = output_file(f"backups/{stamp}{millis:03d}Z-{label}{BACKUP_SUFFIX}")
    partial = path.with_name(f".{path.name}.partial")
    prefix = service.settings.key_prefix
    try:
        # every key of every tenant: for the service's user only
        with contextlib.closing(client), open_private(partial) as out:
            out.write(json.dumps(backup_header(prefix, created_at)) + "\n")
            count = dump_keys(client, prefix, out.write)
            out.write(json.dumps({"end": True, "keys": count}) + "\n")
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return {"path": str(path), "keys": count, "bytes": path.stat().st_size, "prefix": prefix}
