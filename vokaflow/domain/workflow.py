"""A workflow: named tasks and the edges between them, a directed acyclic graph. Pure: the
graph's checks and a workflow's overall status; store.workflow_store keeps its record."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from vokaflow.domain.task import TaskStatus

MAX_NODES = 5000
# Each edge is a registration and a count in Redis: a fan-in of 5,000 and a fan-out of
# 5,000 fit, a dense graph of 5,000 nodes does not.
MAX_EDGES = 20_000


class GraphError(ValueError):
    """A graph that cannot run: ``field`` names where, as the API reports it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def check_graph(names: Sequence[str], parents: Sequence[Sequence[str]]) -> None:
    """Names unique, every parent a node, no cycle; GraphError on the first problem, naming
    ``tasks[i].name`` or ``tasks[i].depends_on[j]``."""
    index: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in index:
            raise GraphError(f"tasks[{i}].name", f"Node name {name!r} is used twice")
        index[name] = i
    for i, node_parents in enumerate(parents):
        for j, parent in enumerate(node_parents):
            if parent not in index:
                raise GraphError(f"tasks[{i}].depends_on[{j}]", f"No node named {parent!r}")
    cycle = find_cycle(parents, index)
    if cycle:
        path = " -> ".join(names[i] for i in cycle)
        waiting, waited_for = cycle[-2], cycle[-1]
        j = list(parents[waiting]).index(names[waited_for])
        raise GraphError(
            f"tasks[{waiting}].depends_on[{j}]", f"A cycle (each waits for the next): {path}"
        )


def check_edges(parents: Sequence[Sequence[str]]) -> None:
    """No parent named twice by one node, and at most MAX_EDGES in all."""
    for i, node_parents in enumerate(parents):
        seen: set[str] = set()
        for j, parent in enumerate(node_parents):
            if parent in seen:
                raise GraphError(f"tasks[{i}].depends_on[{j}]", f"{parent!r} is named twice")
            seen.add(parent)
    edges = sum(len(p) for p in parents)
    if edges > MAX_EDGES:
        raise GraphError("tasks", f"{edges} edges; a workflow may have {MAX_EDGES}")


def find_cycle(parents: Sequence[Sequence[str]], index: Mapping[str, int]) -> list[int]:
    """A cycle as node indices, first and last the same (a node that waits for the one
    before it), or [] for a DAG. Iterative depth-first search: 5,000 nodes deep is fine."""
    state = [0] * len(parents)  # 0 new, 1 on the path, 2 done
    for start in range(len(parents)):
        if state[start]:
            continue
        path, stack = [start], [iter(parents[start])]
        state[start] = 1
        while stack:
            parent = next(stack[-1], None)
            if parent is None:
                state[path.pop()] = 2
                stack.pop()
                continue
            p = index[parent]
            if state[p] == 1:
                return [*path[path.index(p) :], p]
            if state[p] == 0:
                state[p] = 1
                path.append(p)
                stack.append(iter(parents[p]))
    return []


@dataclass(frozen=True)
class WorkflowNode:
    name: str
    task_id: str
    depends_on: tuple[str, ...]


ACTIVE = {TaskStatus.SCHEDULED, TaskStatus.WAITING, TaskStatus.QUEUED, TaskStatus.RUNNING}


def overall_status(statuses: Sequence[TaskStatus | None], cancelled: bool) -> str:
    """running while any node has not ended; then completed when every node completed,
    cancelled when the workflow was cancelled, else failed. None: a record that expired."""
    if any(s in ACTIVE for s in statuses):
        return "running"
    if all(s == TaskStatus.COMPLETED for s in statuses):
        return "completed"
    if cancelled:
        return "cancelled"
    if any(s is None for s in statuses) and all(
        s in (None, TaskStatus.COMPLETED) for s in statuses
    ):
        return "expired"
    return "failed"
