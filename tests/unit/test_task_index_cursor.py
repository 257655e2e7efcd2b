"""The task search's pure parts (store.task_index): a cursor holds the position it was
given and nothing else decodes as one; a query checks every filter, the owner exactly."""

from __future__ import annotations

import base64
import json

import pytest

from vokaflow.domain import Priority, TaskStatus
from vokaflow.domain.priority import queue_score
from vokaflow.domain.task import TaskSpec
from vokaflow.store.task_index import IndexPosition, TaskQuery, decode_cursor, encode_cursor

QUERY = TaskQuery(owner="ann", status=TaskStatus.QUEUED)


def _raw(body: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "at",
    [IndexPosition("owner", 1_700_000_000_123.0, "a:b/ü"), IndexPosition("all", 0.0, "x"), 0, 42],
)
def test_a_cursor_decodes_to_the_position_it_was_made_from(at):
    assert decode_cursor(encode_cursor(QUERY.fingerprint(), at), QUERY.fingerprint()) == at


def test_a_cursor_of_another_query_is_refused():
    cursor = encode_cursor(TaskQuery(owner="bob").fingerprint(), 5)
    with pytest.raises(ValueError):
        decode_cursor(cursor, QUERY.fingerprint())


@pytest.mark.parametrize(
    "body",
    [
        {"v": 2, "q": QUERY.fingerprint(), "o": 1},
        {"v": 1, "q": QUERY.fingerprint(), "o": -1},
        {"v": 1, "q": QUERY.fingerprint(), "o": "1"},
        {"v": 1, "q": QUERY.fingerprint(), "o": True},
        {"v": 1, "q": QUERY.fingerprint(), "i": "owner", "s": "1", "m": "x"},
        {"v": 1, "q": QUERY.fingerprint(), "i": "owner", "s": 1e300, "m": "x"},
        {"v": 1, "q": QUERY.fingerprint(), "i": "owner", "s": 1, "m": ""},
        {"v": 1, "q": QUERY.fingerprint(), "i": 3, "s": 1, "m": "x"},
        {"v": 1, "q": QUERY.fingerprint(), "i": "owner", "s": 1, "m": "x", "extra": 1},
        [1, 2],
        "text",
    ],
)
def test_a_tampered_cursor_is_a_value_error(body):
    with pytest.raises(ValueError):
        decode_cursor(_raw(body), QUERY.fingerprint())


@pytest.mark.parametrize("raw", ["", "x", "!!!", "é", "A" * 3000, "e30"])
def test_what_is_not_a_cursor_is_a_value_error(raw):
    with pytest.raises(ValueError):
        decode_cursor(raw, QUERY.fingerprint())


def _record(**fields) -> dict[str, str]:
    spec = TaskSpec(task_id="t1", function_name="resize", name="thumbs", owner="ann", **fields)
    flat = spec.to_fields()
    return dict(zip(flat[::2], flat[1::2], strict=True))


def test_a_query_checks_every_filter_and_the_owner_exactly():
    record = _record(priority=Priority.HIGH, batch_id="b1", workflow_id="w1")
    assert TaskQuery(owner="ann").matches(record)
    assert TaskQuery(owner=None).matches(record)
    assert not TaskQuery(owner="an").matches(record)
    assert not TaskQuery(owner="ann ").matches(record)
    matching = TaskQuery(
        owner="ann",
        task_id="t1",
        status=TaskStatus.QUEUED,
        function_name="resize",
        name="thumbs",
        priority=Priority.HIGH,
        batch_id="b1",
        workflow_id="w1",
    )
    assert matching.matches(record)
    for wrong in (
        {"task_id": "t2"},
        {"status": TaskStatus.RUNNING},
        {"function_name": "noop"},
        {"name": "other"},
        {"priority": Priority.LOW},
        {"batch_id": "b2"},
        {"workflow_id": "w2"},
    ):
        assert not TaskQuery(**{**matching.__dict__, **wrong}).matches(record)


def test_a_promoted_task_matches_its_new_priority():
    record = _record(priority=Priority.LOW)
    record["score"] = repr(queue_score(Priority.NORMAL, 1_800_000_000.0))
    assert TaskQuery(owner="ann", priority=Priority.NORMAL).matches(record)
    assert not TaskQuery(owner="ann", priority=Priority.LOW).matches(record)


def test_a_record_without_a_readable_spec_matches_nothing():
    assert not TaskQuery(owner=None).matches({"status": "queued"})
    assert not TaskQuery(owner=None).matches({"spec": "not json"})
    assert not TaskQuery(owner=None).matches({"spec": "[]"})
