"""The releaser's own process, a child of the scheduler actor's.

In the scheduler's process a pass waited for whatever held the event loop or the GIL, and
on loaded cores for the process itself to be run again: up to a few hundred ms
(docs/decisions.md, "Delayed tasks"). This process does almost nothing else, so the OS
runs it soon after its sleep ends. It holds no state: it releases what Redis says is due
and publishes a wake-up for the dispatcher, and it ends when its parent does (the actor
killed, restarted by Ray, which then starts a new one). Two at once during a restart
release each task once: release_due.lua is atomic per partition.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
from typing import Any

from vokaflow.config import Settings
from vokaflow.scheduler.ports import SystemClock
from vokaflow.scheduler.releaser import Releaser
from vokaflow.store.dispatch_store import DispatchStore
from vokaflow.store.keys import Keys
from vokaflow.store.redis_client import connect
from vokaflow.store.task_store import TaskStore

log = logging.getLogger("vokaflow.scheduler")

PARENT_CHECK_S = 0.5


def start_release_process(redis_url: str, wire_settings: dict[str, Any]) -> subprocess.Popen[bytes]:
    """From the scheduler actor: the child, on the actor's own import path (Ray may have
    put the code there rather than in the environment)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    argv = [sys.executable, "-m", __name__, str(os.getpid()), redis_url]
    child = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE)
    assert child.stdin is not None
    child.stdin.write(json.dumps(wire_settings).encode())
    child.stdin.close()  # the settings hold secrets: not on the command line
    return child


async def release_while_parent_lives(releaser: Releaser, parent_pid: int) -> None:
    releasing = asyncio.get_running_loop().create_task(releaser.run())
    try:
        while os.getppid() == parent_pid:
            await asyncio.sleep(PARENT_CHECK_S)
        log.info("the scheduler that started this releaser is gone; stopping")
    finally:
        releasing.cancel()


async def serve(parent_pid: int, redis_url: str, settings: Settings) -> None:
    keys = Keys(settings.key_prefix, settings.partitions)
    client = connect(redis_url)
    store = DispatchStore(client, keys, settings.task_retention_s)
    wakeups = TaskStore(client, keys, settings.task_retention_s)
    releaser = Releaser(store, wakeups.notify_scheduler, SystemClock())
    await release_while_parent_lives(releaser, parent_pid)


def run_ahead_of_the_pools(niceness: int) -> None:
    try:
        os.setpriority(os.PRIO_PROCESS, 0, niceness)
    except PermissionError:
        log.info(
            "niceness %d not allowed (needs root or CAP_SYS_NICE); keeping %d",
            niceness,
            os.getpriority(os.PRIO_PROCESS, 0),
        )


def main() -> None:
    parent_pid, redis_url = int(sys.argv[1]), sys.argv[2]
    settings = Settings.from_wire(json.loads(sys.stdin.read()))
    logging.basicConfig(level=logging.INFO, format="releaser %(levelname)s %(message)s")
    run_ahead_of_the_pools(settings.release_niceness)
    asyncio.run(serve(parent_pid, redis_url, settings))


if __name__ == "__main__":
    main()
