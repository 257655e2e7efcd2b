from __future__ import annotations

import json
from pathlib import Path

import pytest

from vokaflow.config import Settings
from vokaflow.domain.principal import Principal
from vokaflow.functions.arguments import ArgumentError
from vokaflow.functions.data_roots import (
    DataPath,
    OutputPath,
    ScopedContexts,
    confine,
    scoped_roots,
    sibling,
    validation_context,
)
from vokaflow.functions.registry import FunctionRegistry, function
from vokaflow.workers.env import WorkerEnv
from vokaflow.workers.results import bounded_result


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "in.csv").write_text("a\n1\n")
    return tmp_path / "data"


def _reader() -> FunctionRegistry:
    registry = FunctionRegistry()

    @function(category="files", description="d", estimated_duration="e", target=registry)
    def read(file_path: DataPath, output_path: OutputPath = "out.txt") -> str:
        return file_path

    return registry


def _check(root: Path, **kwargs: str) -> dict[str, str]:
    return _reader().get("read").validated([], kwargs, validation_context([root]))[1]


def test_a_relative_path_resolves_under_the_first_data_root(root: Path):
    assert _check(root, file_path="in.csv")["file_path"] == str(root / "in.csv")


def test_an_absolute_path_inside_a_root_is_accepted(root: Path):
    assert _check(root, file_path=str(root / "in.csv"))["file_path"] == str(root / "in.csv")


@pytest.mark.parametrize("path", ["../secret.txt", "sub/../../x", "/etc/passwd"])
def test_traversal_and_absolute_paths_outside_the_roots_are_refused(root: Path, path: str):
    with pytest.raises(ArgumentError) as raised:
        _check(root, file_path=path)
    assert raised.value.field == "kwargs.file_path"


def test_a_symlink_that_leads_out_of_the_root_is_refused(root: Path, tmp_path: Path):
    (tmp_path / "outside.txt").write_text("secret")
    (root / "link.txt").symlink_to(tmp_path / "outside.txt")
    with pytest.raises(ArgumentError, match="outside the data roots"):
        _check(root, file_path="link.txt")


def test_an_input_that_does_not_exist_is_refused_but_an_output_may_be_new(root: Path):
    with pytest.raises(ArgumentError, match="no such file"):
        _check(root, file_path="missing.csv")
    assert _check(root, file_path="in.csv", output_path="new/report.html")["output_path"] == str(
        root / "new" / "report.html"
    )


@pytest.mark.parametrize(
    "path",
    [
        "models",
        "models/x.skops",
        "models/.x.skops.123.partial",
        "./models/new/x.csv",
        "principals/alice/models/x.skops",  # an admin's task reaches every principal's
    ],
)
def test_no_output_path_may_lie_in_a_models_folder(root: Path, path: str):
    with pytest.raises(ArgumentError, match="models folder") as raised:
        _check(root, file_path="in.csv", output_path=path)
    assert raised.value.field == "kwargs.output_path"


def test_a_link_into_the_models_folder_is_refused_as_an_output(root: Path):
    (root / "models").mkdir()
    (root / "innocent").symlink_to(root / "models")
    with pytest.raises(ArgumentError, match="models folder"):
        _check(root, file_path="in.csv", output_path="innocent/x.csv")


def test_a_second_root_accepts_absolute_paths_under_it(tmp_path: Path):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir(), second.mkdir()
    assert confine(second / "x", [first, second]) == second / "x"


def _env(tmp_path: Path, limit: int) -> WorkerEnv:
    settings = Settings(home=tmp_path, max_result_bytes=limit, data_roots=str(tmp_path / "d"))
    return WorkerEnv(redis_url="redis://unused", settings_wire=settings.to_wire())


def test_a_small_result_is_returned_as_it_is(tmp_path: Path):
    assert bounded_result({"a": 1}, "t1", _env(tmp_path, 1024)) == {"a": 1}


def test_a_large_result_is_written_to_the_data_root_and_returned_as_a_path(tmp_path: Path):
    big = {"rows": list(range(2000))}
    pointer = bounded_result(big, "t2", _env(tmp_path, 1024))
    assert pointer["result_path"] == str(tmp_path / "d" / "results" / "t2.json")
    assert json.loads(Path(pointer["result_path"]).read_text()) == big
    assert pointer["size_bytes"] > 1024


def test_a_result_that_is_not_json_is_refused(tmp_path: Path):
    with pytest.raises(TypeError):
        bounded_result({1, 2}, "t3", _env(tmp_path, 1024))


def test_a_sibling_file_planted_as_a_link_out_of_the_root_is_refused(
    root: Path, tmp_path: Path, monkeypatch
):
    monkeypatch.setenv("VOKAFLOW_DATA_ROOTS", str(root))
    (root / "report.png").symlink_to(tmp_path / "elsewhere.png")
    with pytest.raises(ValueError, match="outside the data roots"):
        sibling(root / "report.html", "report.png")
    assert sibling(root / "report.html", "report.partial") == root / "report.partial"


# --- data scopes: a principal's tasks reach its own folder of each root ------------------


def test_an_admin_s_scope_is_the_whole_root_and_a_user_s_is_its_own_folder(tmp_path: Path):
    roots = [tmp_path / "a", tmp_path / "b"]
    assert scoped_roots(roots, "") == roots
    assert scoped_roots(roots, "alice") == [
        tmp_path / "a" / "principals" / "alice",
        tmp_path / "b" / "principals" / "alice",
    ]


def test_a_principal_s_data_scope_is_its_name_or_a_hash_of_an_unsafe_one():
    assert Principal("admin", "admin").data_scope == ""
    assert Principal("alice", "user").data_scope == "alice"
    for unsafe in ("..", "a/b", "x" * 65, "ünï", ""):
        scope = Principal(unsafe, "user").data_scope
        assert len(scope) == 32 and scope.isalnum()


def test_two_names_never_share_a_data_scope_even_when_one_looks_like_a_hash():
    unsafe = "alice@example.com"
    lookalike = Principal(unsafe, "user").data_scope
    assert Principal(lookalike, "user").data_scope != lookalike
    assert Principal("ABCDEF0123456789ABCDEF0123456789", "user").data_scope == (
        "ABCDEF0123456789ABCDEF0123456789"
    ), "only what a hash looks like (lowercase hex) is hashed again"


def test_a_user_s_relative_path_starts_in_its_folder_and_others_are_refused(root: Path):
    mine = root / "principals" / "alice"
    mine.mkdir(parents=True)
    (mine / "in.csv").write_text("a\n2\n")
    context = validation_context(scoped_roots([root], "alice"))
    read = _reader().get("read")
    assert read.validated([], {"file_path": "in.csv"}, context)[1]["file_path"] == str(
        (mine / "in.csv").resolve()
    )
    for elsewhere in (str(root / "in.csv"), str(root / "principals" / "bob" / "x.csv")):
        with pytest.raises(ArgumentError) as refused:
            read.validated([], {"file_path": elsewhere}, context)
        assert refused.value.field == "kwargs.file_path"


def test_a_user_s_large_result_is_written_in_its_own_folder(tmp_path: Path):
    pointer = bounded_result({"rows": list(range(2000))}, "t9", _env(tmp_path, 1024), "alice")
    assert pointer["result_path"] == str(
        tmp_path / "d" / "principals" / "alice" / "results" / "t9.json"
    )


def test_a_worker_checks_each_task_against_its_own_scope(tmp_path: Path):
    env = _env(tmp_path, 1024)
    assert env.argument_context("")["data_roots"] == [str(tmp_path / "d")]
    assert env.argument_context("alice")["data_roots"] == [
        str(tmp_path / "d" / "principals" / "alice")
    ]
    assert env.argument_context("alice") is env.argument_context("alice")


# --- databases: a principal's own SQLite, and only the servers it is allowed -----------

PG = "postgresql+psycopg://app@db/app"


def test_a_user_s_tasks_may_name_default_sqlite_but_no_unlisted_server(tmp_path: Path):
    settings = Settings(home=tmp_path, databases={"pg": PG, "pg2": PG})
    assert settings.database_names() == ["default", "pg", "pg2"]
    assert settings.database_names(principal_scoped=True) == ["default"]
    listed = Settings(home=tmp_path, databases={"pg": PG, "pg2": PG}, user_databases=["pg2"])
    assert listed.database_names(principal_scoped=True) == ["default", "pg2"]


def test_a_default_database_on_a_server_is_for_admins_unless_listed(tmp_path: Path):
    server = Settings(home=tmp_path, database_url=PG)
    assert server.database_names(principal_scoped=True) == []
    shared = Settings(home=tmp_path, database_url=PG, user_databases=["default"])
    assert shared.database_names(principal_scoped=True) == ["default"]
    assert shared.database_url_for("default", tmp_path / "anywhere") == PG


def test_default_sqlite_lies_in_the_folder_the_task_passes(tmp_path: Path):
    settings = Settings(home=tmp_path, data_roots=str(tmp_path / "d"))
    assert settings.database_url_for() == f"sqlite:///{(tmp_path / 'd' / 'vokaflow.db')}"
    mine = scoped_roots(settings.data_root_paths, "alice")[0]
    assert settings.database_url_for("default", mine) == f"sqlite:///{mine / 'vokaflow.db'}"


def test_a_user_s_task_naming_an_unlisted_server_is_refused_naming_the_field(tmp_path: Path):
    from vokaflow.functions import registry

    contexts = ScopedContexts(Settings(home=tmp_path, databases={"pg": PG}))
    query = registry.get("complex_query")
    kwargs = {"query": "SELECT 1", "database": "pg"}
    query.validated([], kwargs, contexts.for_scope(""))  # an admin's task
    with pytest.raises(ArgumentError) as refused:
        query.validated([], kwargs, contexts.for_scope("alice"))
    assert refused.value.field == "kwargs.database"
    assert "only admin keys" in refused.value.message


def test_leaving_the_database_out_names_default_and_is_checked_like_a_named_one(tmp_path: Path):
    from vokaflow.functions import registry

    contexts = ScopedContexts(Settings(home=tmp_path, database_url=PG))
    query = registry.get("complex_query")
    query.validated([], {"query": "SELECT 1"}, contexts.for_scope(""))
    with pytest.raises(ArgumentError) as refused:
        query.validated([], {"query": "SELECT 1"}, contexts.for_scope("alice"))
    assert refused.value.field == "kwargs.database"
