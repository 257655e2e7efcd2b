from __future__ import annotations

import hashlib
import json
import tarfile
import zipfile
from pathlib import Path

import pytest

from vokaflow.functions.arguments import ArgumentError
from vokaflow.functions.data_roots import validation_context
from vokaflow.functions.files import (
    archive_entries,
    checksums,
    compress_files,
    convert_file,
    file_checksum,
    json_safe,
    root_of,
    table_format,
)
from vokaflow.functions.registry import registry

CSV = "name,score,weight\nada,1,2.5\nbob,2,\ncy,3,4.25\n"


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "data"
    (data / "docs" / "deep").mkdir(parents=True)
    (data / "docs" / "a.txt").write_text("alpha")
    (data / "docs" / "deep" / "b.txt").write_text("beta")
    (data / "table.csv").write_text(CSV)
    (tmp_path / "secret.txt").write_text("secret")
    monkeypatch.setenv("VOKAFLOW_DATA_ROOTS", str(data))
    return data


def _validated(name: str, root: Path, **kwargs: object) -> dict[str, object]:
    return registry.get(name).validated([], kwargs, validation_context([root]))[1]


def test_members_are_named_relative_to_the_data_root_the_files_lie_in(root: Path):
    entries, skipped = archive_entries([root / "docs", root / "table.csv"], [root])
    assert [member for _, member in entries] == ["docs/a.txt", "docs/deep/b.txt", "table.csv"]
    assert skipped == []


def test_a_file_named_twice_is_archived_once(root: Path):
    entries, _ = archive_entries([root / "docs", root / "docs" / "a.txt"], [root])
    assert [member for _, member in entries] == ["docs/a.txt", "docs/deep/b.txt"]


def test_symlinks_inside_a_folder_that_lead_out_or_to_folders_are_skipped(root: Path):
    (root / "docs" / "leak").symlink_to(root.parent / "secret.txt")
    (root / "docs" / "loop").symlink_to(root)
    (root / "docs" / "alias.csv").symlink_to(root / "table.csv")
    entries, skipped = archive_entries([root / "docs"], [root])
    assert sorted(skipped) == ["docs/leak", "docs/loop"]
    assert ("docs/alias.csv") in [member for _, member in entries]
    assert all(source.is_relative_to(root) for source, _ in entries)


def test_the_deepest_of_nested_roots_names_the_members(tmp_path: Path):
    outer, inner = tmp_path / "outer", tmp_path / "outer" / "inner"
    inner.mkdir(parents=True)
    assert root_of(inner / "x.txt", [outer, inner]) == inner


def test_a_zip_archive_holds_the_files_and_their_content(root: Path):
    result = compress_files([str(root / "docs")], str(root / "out" / "docs.zip"))
    assert result["files"] == 2 and result["format"] == "zip"
    with zipfile.ZipFile(root / "out" / "docs.zip") as archive:
        assert archive.read("docs/deep/b.txt") == b"beta"
    assert result["bytes"] == (root / "out" / "docs.zip").stat().st_size


def test_a_tar_gz_archive_leaves_out_the_archive_being_written(root: Path):
    target = root / "all.tar.gz"
    compress_files([str(root)], str(target), format="tar.gz")
    with tarfile.open(target) as archive:
        assert sorted(archive.getnames()) == ["docs/a.txt", "docs/deep/b.txt", "table.csv"]
    assert not (root / "all.tar.gz.partial").exists()


def test_an_empty_folder_is_refused_at_run_time(root: Path):
    (root / "empty").mkdir()
    with pytest.raises(ValueError, match="nothing to compress"):
        compress_files([str(root / "empty")], str(root / "e.zip"))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"paths": "docs", "output_path": "a.zip"}, "kwargs.paths"),
        ({"paths": [], "output_path": "a.zip"}, "kwargs.paths"),
        ({"paths": ["../secret.txt"], "output_path": "a.zip"}, "kwargs.paths[0]"),
        ({"paths": ["docs"], "output_path": "/tmp/a.zip"}, "kwargs.output_path"),
        ({"paths": ["docs"], "output_path": "a.rar", "format": "rar"}, "kwargs.format"),
    ],
)
def test_bad_compress_arguments_are_refused_naming_the_field(root: Path, kwargs, field):
    with pytest.raises(ArgumentError) as raised:
        _validated("compress_files", root, **kwargs)
    assert raised.value.field == field


def test_checksums_match_hashlib_for_every_algorithm(root: Path):
    data = b"x" * (3 * 1024 * 1024 + 17)  # several chunks
    (root / "big.bin").write_bytes(data)
    size, digests = checksums(root / "big.bin", ["sha256", "md5", "blake2b", "sha256"])
    assert size == len(data)
    assert digests == {
        "sha256": hashlib.sha256(data).hexdigest(),
        "md5": hashlib.md5(data).hexdigest(),
        "blake2b": hashlib.blake2b(data).hexdigest(),
    }


def test_file_checksum_defaults_to_sha256_and_refuses_a_folder(root: Path):
    result = file_checksum(str(root / "table.csv"))
    assert result["checksums"] == {"sha256": hashlib.sha256(CSV.encode()).hexdigest()}
    with pytest.raises(ValueError, match="not a file"):
        file_checksum(str(root / "docs"))


def test_an_unknown_algorithm_is_refused_naming_its_position(root: Path):
    with pytest.raises(ArgumentError) as raised:
        _validated("file_checksum", root, file_path="table.csv", algorithms=["sha256", "crc"])
    assert raised.value.field == "kwargs.algorithms[1]"


def test_formats_come_from_the_suffix_unless_named(tmp_path: Path):
    assert table_format(tmp_path / "a.PARQUET", None, "from") == "parquet"
    assert table_format(tmp_path / "a.txt", "csv", "from") == "csv"
    with pytest.raises(ValueError, match="to_format"):
        table_format(tmp_path / "a.xlsx", None, "to")


def test_nan_and_infinity_become_null_in_json():
    assert json_safe([{"a": float("nan"), "b": [float("inf"), 1.5]}]) == [
        {"a": None, "b": [None, 1.5]}
    ]


def test_csv_json_parquet_and_back_keep_the_data(root: Path):
    import pandas as pd

    convert_file(str(root / "table.csv"), str(root / "t.json"))
    records = json.loads((root / "t.json").read_text())
    assert records[1] == {"name": "bob", "score": 2, "weight": None}
    convert_file(str(root / "t.json"), str(root / "t.parquet"))
    result = convert_file(str(root / "t.parquet"), str(root / "back.csv"))
    assert result == {
        "path": str(root / "back.csv"),
        "rows": 3,
        "columns": ["name", "score", "weight"],
        "format": "csv",
    }
    pd.testing.assert_frame_equal(pd.read_csv(root / "back.csv"), pd.read_csv(root / "table.csv"))


def test_json_lines_are_read_as_rows(root: Path):
    (root / "rows.jsonl").write_text('{"a": 1}\n{"a": 2}\n')
    result = convert_file(str(root / "rows.jsonl"), str(root / "rows.csv"))
    assert result["rows"] == 2
    assert (root / "rows.csv").read_text().split() == ['"a"', "1", "2"]


def test_a_json_file_that_is_not_a_list_of_objects_is_refused(root: Path):
    (root / "bad.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="list of objects"):
        convert_file(str(root / "bad.json"), str(root / "bad.csv"))
