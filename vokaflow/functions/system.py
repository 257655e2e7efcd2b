"""``system`` functions: node health, cache and log housekeeping, state backups.

Housekeeping touches only what the service owns: files under ``<first data root>/tmp`` and
``/results``, log files under VOKAFLOW_HOME, and Redis keys under the service's key prefix
(through vokaflow.store.housekeeping and vokaflow.store.backups).
"""

from __future__ import annotations

import contextlib
import glob
import gzip
import os
import platform
import re
import shutil
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import psutil
from pydantic import Field

from vokaflow.config import Settings, load_settings
from vokaflow.domain import WorkerType
from vokaflow.functions.context import current_task, report_progress
from vokaflow.functions.data_roots import PRINCIPALS_FOLDER, output_file
from vokaflow.functions.registry import function
from vokaflow.private_files import open_private
from vokaflow.store.backups import write_backup
from vokaflow.store.embedded import EmbeddedRedis
from vokaflow.store.housekeeping import housekeeping
from vokaflow.store.keys import Keys

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

CLEANED_FOLDERS = ("tmp", "results")
BACKUP_SUFFIX = ".rdbdump"

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
        return Keys(self.settings.key_prefix, self.settings.partitions)

    def tidy_redis(self, dry_run: bool) -> dict[str, int] | None:
        """None without a Redis."""
        if self.redis_url is None:
            return None
        with housekeeping(self.redis_url, self.keys) as chores:
            return chores.tidy(self.settings.task_retention_s, dry_run)

    def trim_log_streams(self) -> dict[str, int] | None:
        """None without a Redis."""
        if self.redis_url is None:
            return None
        with housekeeping(self.redis_url, self.keys) as chores:
            return chores.trim_log_streams()


def _service() -> _Service:
    """The running task's settings and Redis; outside a task, the environment's (and the
    embedded Redis of VOKAFLOW_HOME if one runs)."""
    task = current_task()
    if task is not None:
        return _Service(task.settings, task.env.redis_url)
    settings = load_settings()
    return _Service(settings, settings.redis_url or EmbeddedRedis(settings.home).url())


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
    redis_counts = service.tidy_redis(dry_run)
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
    trimmed = service.trim_log_streams()
    return {
        "rotated": rotated,
        "kept": keep,
        "streams_trimmed": trimmed,
        "ray_sessions_removed": remove_ended_ray_sessions(ray_sessions_kept),
    }


# --- backup_state ----------------------------------------------------------------------


@function(
    admin_only=True,
    category="system",
    worker_type=WorkerType.IO_INTENSIVE,
    description="Writes every Redis key of the service (DUMP + TTL) to a backup file",
    estimated_duration="1-60 seconds",
)
def backup_state(label: Slug = "manual") -> dict[str, Any]:
    service = _service()
    if service.redis_url is None:
        raise RuntimeError("no Redis to back up: set VOKAFLOW_REDIS_URL or run it as a task")
    created_at = time.time()
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(created_at))
    millis = int(created_at * 1000) % 1000
    path = output_file(f"backups/{stamp}{millis:03d}Z-{label}{BACKUP_SUFFIX}")
    partial = path.with_name(f".{path.name}.partial")
    prefix = service.settings.key_prefix
    try:
        # every key of every tenant: for the service's user only
        with open_private(partial) as out:
            count = write_backup(
                service.redis_url,
                prefix,
                created_at,
                out.write,
                progress=lambda written: report_progress(None, keys=written),
            )
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return {"path": str(path), "keys": count, "bytes": path.stat().st_size, "prefix": prefix}
