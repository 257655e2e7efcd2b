"""A principal's tasks reach only its own folder of each data root
(``<root>/principals/<name>/``); an admin's reach the whole root. Through the real API,
as two user keys and the admin key."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.helpers import submit, user_client, wait_until

SUBMIT = "/api/high-scale-tasks/submit"


@pytest.fixture(scope="module")
def alice(stack) -> httpx.Client:
    with user_client(stack, "scope-alice") as client:
        yield client


@pytest.fixture(scope="module")
def bob(stack) -> httpx.Client:
    with user_client(stack, "scope-bob") as client:
        yield client


@pytest.fixture(scope="module")
def files(data_root: Path) -> dict[str, Path]:
    """One file in each principal's folder, and one at the root that only admins reach."""
    placed = {
        "alice": data_root / "principals" / "scope-alice" / "notes.txt",
        "bob": data_root / "principals" / "scope-bob" / "notes.txt",
        "shared": data_root / "scope-shared.txt",
    }
    for owner, path in placed.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{owner}'s notes")
    return placed


def _checksum(client: httpx.Client, file_path: str) -> dict[str, Any]:
    task = submit(client, "file_checksum", kwargs={"file_path": file_path}, retry_count=0)
    done = wait_until(client, task["task_id"])
    assert done["status"] == "completed", done
    return done["result"]


def _refused_field(client: httpx.Client, file_path: str) -> str:
    body = {"name": "peek", "function_name": "file_checksum", "kwargs": {"file_path": file_path}}
    reply = client.post(SUBMIT, json=body)
    assert reply.status_code == 400, reply.text
    assert "outside the data roots" in reply.json()["details"]["error"]
    field: str = reply.json()["details"]["field"]
    return field


def test_a_user_s_relative_path_starts_in_its_own_folder(alice, files):
    result = _checksum(alice, "notes.txt")
    assert result["checksums"]["sha256"] == hashlib.sha256(b"alice's notes").hexdigest()
    assert result["path"] == str(files["alice"].resolve())


def test_a_user_cannot_name_another_principal_s_file(alice, files):
    assert _refused_field(alice, str(files["bob"])) == "kwargs.file_path"


def test_a_user_cannot_name_a_file_outside_its_folder_at_the_root(alice, files):
    assert _refused_field(alice, str(files["shared"])) == "kwargs.file_path"


def test_an_admin_reaches_every_folder_of_the_root(api, files):
    for owner in ("alice", "bob", "shared"):
        digest = _checksum(api, str(files[owner]))["checksums"]["sha256"]
        assert digest == hashlib.sha256(f"{owner}'s notes".encode()).hexdigest()


def test_a_user_s_large_result_is_kept_in_its_own_folder_out_of_others_reach(alice, bob, data_root):
    rows = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000) "
    query = rows + "SELECT i, printf('%040d', i) AS padded FROM n"
    task = submit(bob, "complex_query", kwargs={"query": query}, retry_count=0)
    done = wait_until(bob, task["task_id"])
    assert done["status"] == "completed", done
    assert done["result"]["stored_because"] == "too_large"
    path = Path(done["result"]["result_path"])
    expected = data_root / "principals" / "scope-bob" / "results" / f"{task['task_id']}.json"
    assert path == expected.resolve()
    assert json.loads(path.read_text())["row_count"] == 10_000  # max_rows
    assert _refused_field(alice, str(path)) == "kwargs.file_path"


def _run(client: httpx.Client, function_name: str, **kwargs: Any) -> dict[str, Any]:
    task = submit(client, function_name, kwargs=kwargs, retry_count=0)
    done = wait_until(client, task["task_id"])
    assert done["status"] == "completed", done
    return done["result"]


def test_each_user_s_default_database_is_its_own_sqlite_file(alice, bob, data_root):
    _run(alice, "bulk_insert", table="scope_notes", data=[{"id": 1, "by": "alice"}])
    _run(bob, "bulk_insert", table="scope_notes", data=[{"id": 2, "by": "bob"}])
    for client, owner in ((alice, "alice"), (bob, "bob")):
        found = _run(client, "complex_query", query="SELECT by FROM scope_notes")
        assert found["rows"] == [[owner]]
        assert (data_root / "principals" / f"scope-{owner}" / "vokaflow.db").is_file()


def test_a_user_may_not_name_a_database_server_that_is_not_listed_for_users(alice, api):
    body = {
        "name": "peek",
        "function_name": "complex_query",
        "kwargs": {"query": "SELECT 1", "database": "pg"},
    }
    reply = alice.post(SUBMIT, json=body)
    assert reply.status_code == 400, reply.text
    assert reply.json()["details"]["field"] == "kwargs.database"
    assert "only admin keys" in reply.json()["details"]["error"]
    assert _run(api, "complex_query", query="SELECT 1", database="pg")["rows"] == [[1]]
