"""Where training data may come from: a file inside the submitting principal's dataset
folder, ``VOKAFLOW_HOME/datasets/<principal>/``, a regular file of bounded size. A task may
not read anything else on the worker (secrets, other tenants' data, devices)."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from vokaflow.domain.principal import principal_folder

MAX_DATASET_BYTES = 64 * 1024 * 1024
MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


def check_model_id(model_id: str) -> str:
    if not MODEL_ID.fullmatch(model_id) or ".." in model_id:
        raise ValueError(
            "new_model_id must be 1-63 letters, digits, '_', '.' or '-', starting with a "
            "letter or digit"
        )
    return model_id


def owner_folder(home: Path, owner: str) -> Path:
    """The principal's dataset folder; a name unsafe as a folder name is hashed."""
    return home / "datasets" / principal_folder(owner)


def open_dataset(home: Path, owner: str, relative: str) -> str:
    """The text of ``relative`` inside the owner's dataset folder, or ValueError saying only
    that no such dataset exists (no hint of what else is on the disk)."""
    root = owner_folder(home, owner).resolve()
    missing = ValueError(
        f"no dataset {relative!r} in your dataset folder ({root}); datasets are files "
        "there, named relative to it"
    )
    candidate = Path(relative)
    if candidate.is_absolute() or ".." in candidate.parts or not relative:
        raise missing
    try:
        fd = os.open(root / candidate, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        raise missing from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise missing
        if info.st_size > MAX_DATASET_BYTES:
            raise ValueError(f"the dataset is over {MAX_DATASET_BYTES} bytes")
        if not (root / candidate).resolve().is_relative_to(root):
            raise missing  # a folder on the way was a link out of the root
        return handle.read(MAX_DATASET_BYTES).decode("utf-8")
