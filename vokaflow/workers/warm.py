"""Imported by every Ray worker process of a node that `vokaflow up` starts, as it starts
and before its main loop runs any task (Ray's ``preload_python_modules``). Ray starts
workers ahead of need, so the import is usually done by the time one gets a chunk; a
chunk Ray hands it sooner waits for the import to end.

Without it a pool worker's first chunk imports the executor and the function registry
itself: about a third of a second on an idle 2-core machine, a second under load, and an
EMERGENCY task that landed on a fresh worker waited that long behind the imports
(docs/decisions.md, "Warm workers").
"""

from __future__ import annotations

import logging

try:
    import vokaflow.workers.executor  # noqa: F401  (imported for its side effect: warm)
except Exception:  # a worker that cannot warm up still runs its tasks, importing then
    logging.getLogger("vokaflow.workers").warning("preloading the executor failed", exc_info=True)
