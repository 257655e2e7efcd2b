"""Who a request acts for, and the folder of each data root that a principal's tasks reach.
Pure Python: the store keeps the principals' keys, the API and Vicky check what they may see."""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass

from vokaflow.domain.priority import Priority

SAFE_FOLDER_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
HASHED_FOLDER = re.compile(r"^[0-9a-f]{32}$")


def principal_folder(name: str) -> str:
    """A principal's name as a folder name. A name unsafe as one is hashed, and so is a
    name that looks like a hash: two names never share a folder."""
    if (
        SAFE_FOLDER_NAME.fullmatch(name)
        and name not in (".", "..")
        and not HASHED_FOLDER.match(name)
    ):
        return name
    return hashlib.sha256(name.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Principal:
    """Who a request acts for."""

    name: str
    role: str  # "admin" or "user"
    # the most urgent priority its credential may give a task (None: any, as before caps)
    max_priority: Priority | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @functools.cached_property
    def data_scope(self) -> str:
        """The folder of each data root that this principal's tasks may reach (see
        vokaflow.functions.data_roots); empty for an admin, whose tasks reach all of it."""
        return "" if self.is_admin else principal_folder(self.name)

    def may_use(self, priority: Priority) -> bool:
        return self.max_priority is None or priority.level >= self.max_priority.level

    def may_see(self, owner: str | None) -> bool:
        """Admins see everything; others only what they created."""
        return self.is_admin or owner == self.name
