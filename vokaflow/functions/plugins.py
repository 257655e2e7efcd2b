"""The user's own functions: modules named in VOKAFLOW_PLUGINS, and those that installed
packages declare in the ``vokaflow.functions`` entry-point group. Importing a module runs
its ``@function`` decorators, which register its functions."""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
from collections.abc import Callable, Iterable

from vokaflow.errors import ConfigError

ENTRY_POINT_GROUP = "vokaflow.functions"
_loaded: set[str] = set()
_ensured: set[tuple[str, ...]] = set()


def ensure_plugins(modules: Iterable[str]) -> None:
    """load_plugins, done once per process for a given list: workers call it per task, and
    reading the installed packages' entry points takes milliseconds."""
    key = tuple(modules)
    if key not in _ensured:
        load_plugins(key)
        _ensured.add(key)


def load_plugins(modules: Iterable[str]) -> list[str]:
    """Import the named modules and the entry points' (once per process); returns what was
    imported now. A module that fails to import is a ConfigError naming it."""
    imported = []
    for name in modules:
        if name not in _loaded:
            _import(name, functools.partial(importlib.import_module, name))
            imported.append(name)
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        label = f"{entry_point.name} = {entry_point.value}"
        if label not in _loaded:
            _import(label, entry_point.load)
            imported.append(label)
    return imported


def _import(label: str, load: Callable[[], object]) -> None:
    try:
        load()
    except Exception as exc:
        raise ConfigError(f"function plugin {label!r} failed to load: {exc!r}") from exc
    _loaded.add(label)
