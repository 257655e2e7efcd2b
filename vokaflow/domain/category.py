"""A task's category: the built-in ones, and the form of a name a plugin may add."""

from __future__ import annotations

import re

CATEGORY_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")  # built-in or a plugin's own
CATEGORIES: tuple[str, ...] = (
    "vicky",
    "audio",
    "database",
    "notifications",
    "files",
    "analytics",
    "ml",
    "system",
    "realtime",
)
