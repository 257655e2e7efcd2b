"""Files and folders that only the service's own user may read: VOKAFLOW_HOME, the embedded
Redis's folder and URL (it holds the password), the keys `up` keeps, backups and large
results. Other local users must not reach any tenant's data through the file system."""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

# `vokaflow up` sets it before it starts Redis and Ray, so that every process they start
# (Serve, the scheduler, the workers) creates files 0600 and folders 0700.
PRIVATE_UMASK = 0o077


def private_dir(path: Path) -> Path:
    """``path`` as a folder only its owner may enter: made so, or tightened if it exists."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def open_private(path: Path) -> IO[str]:
    """``path`` opened for writing text, mode 0600 (also when it exists with a looser one)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)
    return os.fdopen(descriptor, "w", encoding="utf-8")


def write_private(path: Path, text: str) -> None:
    with open_private(path) as out:
        out.write(text)
