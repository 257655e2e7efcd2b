"""File paths in task arguments are confined to the configured data roots.

Annotate a parameter with ``DataPath`` (a file or folder that must exist) or ``OutputPath``
(one the function will write): submit refuses, with 400 naming the argument, a path that
climbs with ``..``, an absolute path outside every root, and one whose symlinks lead out.
An ``OutputPath`` may not lie in a models folder either: only the service writes there.
Relative paths start at the first root. The worker checks again before the call, so a
symlink swapped in after submit is caught too.

A task reaches the whole of each root only when an admin submitted it. Any other
principal's tasks reach ``<root>/principals/<name>/`` of each root (the task's data scope):
their relative paths start there, and their large results and models are kept there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, ValidationInfo

from vokaflow.config import Settings
from vokaflow.functions.context import current_settings, current_task


def roots_from(info: ValidationInfo | None) -> list[Path]:
    context = info.context if info is not None else None
    if isinstance(context, dict) and context.get("data_roots"):
        return [Path(root) for root in context["data_roots"]]
    return current_roots()


PRINCIPALS_FOLDER = "principals"
# Trained models (functions/ml.py); loading one trusts its bytes, so no task may write here.
MODELS_FOLDER = "models"


def scoped_roots(roots: list[Path], data_scope: str) -> list[Path]:
    """What a task with ``data_scope`` may reach: the roots themselves for an admin's task
    (scope ""), else the principal's folder in each."""
    if not data_scope:
        return roots
    return [root / PRINCIPALS_FOLDER / data_scope for root in roots]


def current_roots() -> list[Path]:
    """The running task's roots, scoped to its principal; outside a task, those the
    environment configures."""
    roots = current_settings().data_root_paths
    task = current_task()
    return roots if task is None else scoped_roots(roots, task.data_scope)


def confine(value: str | Path, roots: list[Path]) -> Path:
    """The resolved path, if it lies under one of ``roots``; ValueError otherwise."""
    path = Path(value).expanduser()
    if ".." in path.parts:
        raise ValueError("path must not contain '..'")
    if not path.is_absolute():
        path = roots[0] / path
    resolved = path.resolve()
    for root in roots:
        if resolved.is_relative_to(root.resolve()):
            return resolved
    raise ValueError(
        "path lies outside the data roots (symlinks are followed); "
        f"allowed: {', '.join(str(r) for r in roots)}"
    )


def _existing(value: str, info: ValidationInfo) -> str:
    resolved = confine(value, roots_from(info))
    if not resolved.exists():
        raise ValueError(f"no such file or folder under the data roots: {value}")
    return str(resolved)


def _writable(value: str, info: ValidationInfo) -> str:
    roots = roots_from(info)
    resolved = confine(value, roots)
    if in_models_folder(resolved, roots):
        raise ValueError(f"the {MODELS_FOLDER} folder is written by train_classifier only")
    return str(resolved)


def in_models_folder(resolved: Path, roots: list[Path]) -> bool:
    """Whether ``resolved`` lies in the models folder of a root, or of a principal's folder
    in it (an admin's roots hold every principal's)."""
    for root in roots:
        if not resolved.is_relative_to(root.resolve()):
            continue
        parts = resolved.relative_to(root.resolve()).parts
        if parts[:1] == (MODELS_FOLDER,) or (
            len(parts) > 2 and parts[0] == PRINCIPALS_FOLDER and parts[2] == MODELS_FOLDER
        ):
            return True
    return False


DataPath = Annotated[str, AfterValidator(_existing)]
OutputPath = Annotated[str, AfterValidator(_writable)]


def output_file(relative: str | Path) -> Path:
    """A path under the first data root for a function's own output; parents are made."""
    path = confine(relative, current_roots())
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def sibling(target: str | Path, name: str) -> Path:
    """A file beside an already confined ``target`` (a chart, a partial write), confined
    too: a link planted under that name must not lead the write out of the roots."""
    return confine(Path(target).with_name(name), current_roots())


def validation_context(data_roots: list[Path]) -> dict[str, Any]:
    return {"data_roots": [str(root) for root in data_roots]}


def settings_context(settings: Settings) -> dict[str, Any]:
    """What argument validators check against (data roots, database names, the webhook
    allowlist), from the settings of the process that validates: the gateway's or the
    task's."""
    databases = settings.database_names()
    return {
        **validation_context(settings.data_root_paths),
        "databases": databases,  # those this scope may name
        "configured_databases": databases,
        "webhook_allowed_hosts": list(settings.webhook_allowed_hosts),
    }


class ScopedContexts:
    """The argument context for each data scope, derived from the settings' own (no path
    is resolved again) and kept: the gateway and each worker hold one."""

    MAX_SCOPES = 1024  # one per principal seen; past it, start over

    def __init__(self, settings: Settings) -> None:
        self.base = settings_context(settings)
        self._scoped_databases = settings.database_names(principal_scoped=True)
        self._by_scope: dict[str, dict[str, Any]] = {}

    def for_scope(self, data_scope: str) -> dict[str, Any]:
        if not data_scope:
            return self.base
        context = self._by_scope.get(data_scope)
        if context is None:
            if len(self._by_scope) >= self.MAX_SCOPES:
                self._by_scope.clear()
            roots = scoped_roots([Path(r) for r in self.base["data_roots"]], data_scope)
            context = {
                **self.base,
                **validation_context(roots),
                "databases": self._scoped_databases,
            }
            self._by_scope[data_scope] = context
        return context
