"""A workflow's graph checks and its overall status (domain.workflow)."""

from __future__ import annotations

import pytest

from vokaflow.domain import TaskStatus
from vokaflow.domain.workflow import MAX_EDGES, GraphError, check_edges, check_graph, overall_status


def test_a_dag_passes():
    check_graph(["a", "b", "c", "d"], [[], ["a"], ["a"], ["b", "c"]])


@pytest.mark.parametrize(
    ("names", "parents", "field"),
    [
        (["a", "a"], [[], []], "tasks[1].name"),
        (["a", "b"], [[], ["a", "zz"]], "tasks[1].depends_on[1]"),
        (["a"], [["a"]], "tasks[0].depends_on[0]"),
        (["a", "b", "c"], [["c"], ["a"], ["b"]], None),
    ],
)
def test_duplicates_unknown_names_and_cycles_are_named(names, parents, field):
    with pytest.raises(GraphError) as refused:
        check_graph(names, parents)
    if field is not None:
        assert refused.value.field == field
    else:  # the edge that closes the cycle, whichever node the search began at
        assert refused.value.field.startswith("tasks[") and ".depends_on[" in refused.value.field
        assert "cycle" in refused.value.message


def test_a_cycle_s_message_walks_it():
    with pytest.raises(GraphError) as refused:
        check_graph(["a", "b", "c"], [["c"], ["a"], ["b"]])
    assert refused.value.message.endswith("a -> c -> b -> a")


def test_a_long_chain_is_no_recursion_problem():
    names = [f"n{i}" for i in range(5000)]
    check_graph(names, [[], *([f"n{i}"] for i in range(4999))])


C, F, X, R = TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.RUNNING


@pytest.mark.parametrize(
    ("statuses", "cancelled", "overall"),
    [
        ([C, R], False, "running"),
        ([C, TaskStatus.WAITING], False, "running"),
        ([C, C], False, "completed"),
        ([C, F, TaskStatus.UPSTREAM_FAILED], False, "failed"),
        ([C, X], True, "cancelled"),
        ([C, None], False, "expired"),
    ],
)
def test_the_overall_status(statuses, cancelled, overall):
    assert overall_status(statuses, cancelled) == overall


def test_a_parent_named_twice_by_one_node_is_refused_on_its_second_name():
    with pytest.raises(GraphError) as refused:
        check_edges([[], ["a", "a"]])
    assert refused.value.field == "tasks[1].depends_on[1]"


def test_more_edges_than_a_workflow_may_have_are_refused():
    check_edges([[f"n{i}" for i in range(MAX_EDGES)]])
    with pytest.raises(GraphError) as refused:
        check_edges([[f"n{i}" for i in range(MAX_EDGES)], ["n0"]])
    assert refused.value.field == "tasks"
