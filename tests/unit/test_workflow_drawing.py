"""The console's workflow drawing: layers by the deepest parent, lines from parent to child."""

from __future__ import annotations

from vokaflow.api.console.graph import BOX_H, BOX_W, draw, layers


def test_a_node_sits_one_layer_below_its_deepest_parent():
    parents = {"a": [], "b": ["a"], "c": ["a", "b"], "d": ["c"], "e": []}
    assert layers(parents) == {"a": 0, "b": 1, "c": 2, "d": 3, "e": 0}


def test_a_long_chain_is_layered_without_recursion():
    chain = {f"n{i}": [f"n{i - 1}"] if i else [] for i in range(5000)}
    assert layers(chain)["n4999"] == 4999


def test_a_parent_outside_the_graph_counts_as_a_root():
    assert layers({"a": ["gone"]}) == {"a": 0}


def test_a_diamond_is_drawn_with_four_boxes_and_four_lines():
    drawing = draw(
        [
            ("a", "t1", "completed", []),
            ("b", "t2", "running", ["a"]),
            ("c", "t3", "queued", ["a"]),
            ("d", "t4", "waiting", ["b", "c"]),
        ]
    )
    boxes = {box.name: box for box in drawing.boxes}
    assert len(drawing.lines) == 4
    assert boxes["b"].y == boxes["c"].y > boxes["a"].y and boxes["d"].y > boxes["b"].y
    assert boxes["b"].x != boxes["c"].x
    first = drawing.lines[0]
    assert (first.x1, first.y1) == (boxes["a"].x + BOX_W // 2, boxes["a"].y + BOX_H)
    assert drawing.width >= boxes["c"].x + BOX_W and drawing.height >= boxes["d"].y + BOX_H


def test_a_graph_with_too_many_nodes_or_edges_is_not_drawn():
    from vokaflow.api.console.graph import MAX_DRAWN, MAX_LINES_DRAWN, drawable

    chain = [(f"n{i}", f"t{i}", "queued", [f"n{i - 1}"] if i else []) for i in range(MAX_DRAWN)]
    assert drawable(chain)
    assert not drawable([*chain, ("extra", "t", "queued", [])])
    dense = [(f"n{i}", f"t{i}", "queued", [f"n{j}" for j in range(i)]) for i in range(80)]
    assert sum(len(p) for *_, p in dense) > MAX_LINES_DRAWN and not drawable(dense)
