"""A workflow drawn in layers: each node one layer below its deepest parent, laid out left to
right. Pure: the page turns the boxes and lines into SVG."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

BOX_W, BOX_H, GAP_X, GAP_Y, MARGIN = 150, 36, 24, 48, 12
MAX_DRAWN = 400  # more nodes than this are listed, not drawn
MAX_LINES_DRAWN = 2000  # and more edges: a dense graph of 400 nodes has 80,000


@dataclass(frozen=True)
class Box:
    name: str
    task_id: str
    status: str
    x: int
    y: int


@dataclass(frozen=True)
class Line:
    x1: int
    y1: int
    x2: int
    y2: int


@dataclass(frozen=True)
class Drawing:
    boxes: list[Box]
    lines: list[Line]
    width: int
    height: int


def layers(parents: dict[str, Sequence[str]]) -> dict[str, int]:
    """Each node's depth: 0 for a root, else one more than its deepest parent. The graph
    was checked acyclic when submitted; a parent missing from it counts as a root."""
    depth: dict[str, int] = {}
    for start in parents:
        stack = [start]
        while stack:
            node = stack[-1]
            pending = [p for p in parents.get(node, ()) if p in parents and p not in depth]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            known = [depth[p] for p in parents.get(node, ()) if p in depth]
            depth[node] = 1 + max(known) if known else 0
    return depth


def drawable(nodes: Sequence[tuple[str, str, str, Sequence[str]]]) -> bool:
    return len(nodes) <= MAX_DRAWN and sum(len(p) for *_, p in nodes) <= MAX_LINES_DRAWN


def draw(nodes: Sequence[tuple[str, str, str, Sequence[str]]]) -> Drawing:
    """``nodes``: (name, task id, status, parent names), in submit order."""
    depth = layers({name: parents for name, _, _, parents in nodes})
    column: dict[int, int] = {}
    boxes: dict[str, Box] = {}
    for name, task_id, status, _ in nodes:
        layer = depth[name]
        index = column.get(layer, 0)
        column[layer] = index + 1
        x = MARGIN + index * (BOX_W + GAP_X)
        boxes[name] = Box(name, task_id, status, x, MARGIN + layer * (BOX_H + GAP_Y))
    lines = [
        Line(
            boxes[p].x + BOX_W // 2,
            boxes[p].y + BOX_H,
            boxes[name].x + BOX_W // 2,
            boxes[name].y,
        )
        for name, _, _, parents in nodes
        for p in parents
        if p in boxes
    ]
    widest = max(column.values(), default=1)
    return Drawing(
        boxes=list(boxes.values()),
        lines=lines,
        width=2 * MARGIN + widest * (BOX_W + GAP_X),
        height=2 * MARGIN + (max(depth.values(), default=0) + 1) * (BOX_H + GAP_Y),
    )
