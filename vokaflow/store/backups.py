"""A backup of the service's Redis keys, and restoring one.

The file is JSON lines: a header (format, version, prefix, created_at), one line per key
(name and DUMP payload in base64, absolute expiry or null), and a trailer
``{"end": true, "keys": N}`` without which the backup counts as cut short.
"""

from __future__ import annotations

import base64
import contextlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from vokaflow.store.housekeeping import pages
from vokaflow.store.redis_client import connect_sync

BACKUP_FORMAT = "vokaflow-backup"


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


@contextlib.contextmanager
def raw_client(url: str) -> Iterator[redis.Redis]:
    """A blocking client of its own, values as bytes (DUMP payloads), closed after."""
    with contextlib.closing(connect_sync(url, decode_responses=False, socket_timeout=30.0)) as c:
        yield c


def write_backup(
    url: str,
    prefix: str,
    created_at: float,
    write: Callable[[str], Any],
    progress: Callable[[int], None],
) -> int:
    """The header, every key under ``prefix`` and the trailer, through ``write``; returns
    how many keys were written."""
    write(json.dumps(backup_header(prefix, created_at)) + "\n")
    with raw_client(url) as client:
        count = dump_keys(client, prefix, write, progress)
    write(json.dumps({"end": True, "keys": count}) + "\n")
    return count


def dump_keys(
    client: redis.Redis, prefix: str, write: Callable[[str], Any], progress: Callable[[int], None]
) -> int:
    """DUMP and PTTL of every key under ``prefix``, a page at a time; a key that expires
    between SCAN and DUMP is left out. Returns how many were written."""
    written = 0
    for page in pages(client.scan_iter(match=f"{prefix}:*", count=1000)):
        pipe = client.pipeline(transaction=False)
        for key in page:
            pipe.dump(key)
            pipe.pttl(key)
        replies = pipe.execute()
        now_ms = int(time.time() * 1000)
        for key, value, ttl in zip(page, replies[::2], replies[1::2], strict=True):
            if value is None:
                continue
            write(backup_line(key, value, now_ms + ttl if ttl >= 0 else None) + "\n")
            written += 1
        progress(written)
    return written


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
    for page in pages(iter(entries)):
        pipe = client.pipeline(transaction=False)
        for entry in page:
            ttl_ms = 0 if entry.expires_at_ms is None else entry.expires_at_ms - now_ms
            if entry.expires_at_ms is not None and ttl_ms <= 0:
                expired += 1
                continue
            key = renamed(entry.key, header["prefix"], target)
            pipe.restore(key, ttl_ms, entry.value, replace=replace)
            restored += 1
        pipe.execute()
    return {"keys": restored, "expired": expired}
