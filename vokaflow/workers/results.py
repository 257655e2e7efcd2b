"""Results travel as JSON in the task's record, so they are bounded: one larger than
``max_result_bytes`` is written to ``<first data root>/results/<task id>.json`` (mode 0600)
and the task's result says where."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vokaflow.config import Settings
from vokaflow.functions.data_roots import scoped_roots
from vokaflow.private_files import write_private
from vokaflow.workers.env import WorkerEnv

DEFAULT_LIMIT = Settings.model_fields["max_result_bytes"].default


def bounded_result(result: Any, task_id: str, env: WorkerEnv | None, data_scope: str = "") -> Any:
    """``result`` itself when small; otherwise a pointer to the file that holds it, in the
    task's scope of the first data root. A result that is not JSON raises TypeError here,
    so the task fails with that reason."""
    encoded = json.dumps(result)
    limit = env.settings.max_result_bytes if env is not None else DEFAULT_LIMIT
    if len(encoded) <= limit:
        return result
    roots = scoped_roots(env.settings.data_root_paths, data_scope) if env else [Path.cwd()]
    path = roots[0] / "results" / f"{task_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private(path, encoded)
    return {"result_path": str(path), "size_bytes": len(encoded), "stored_because": "too_large"}
