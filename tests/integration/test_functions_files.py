"""The files functions through the real HTTP API, on files written into the stack's data
root: archives opened again, checksums against hashlib, a conversion round trip, and bad
input refused at submit."""

from __future__ import annotations

import hashlib
import json
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.integration.helpers import submit, wait_until

SUBMIT = "/api/high-scale-tasks/submit"
CSV = "city,year,visitors,rating\nLima,2023,120,4.5\nOslo,2023,80,\nKyiv,2024,95,3.75\n"


@pytest.fixture(scope="module")
def folder(data_root: Path) -> Path:
    """A tree of its own: docs with a nested folder, a table, and links in and out."""
    base = data_root / "files-it"
    (base / "docs" / "deep").mkdir(parents=True, exist_ok=True)
    (base / "docs" / "a.txt").write_text("alpha")
    (base / "docs" / "deep" / "b.bin").write_bytes(bytes(range(256)) * 100)
    (base / "table.csv").write_text(CSV)
    outside = data_root.parent / "outside-files-it.txt"
    outside.write_text("not yours")
    (base / "docs" / "leak.txt").symlink_to(outside)
    (base / "escape.txt").symlink_to(outside)
    return base


def _run(api: Any, function_name: str, **kwargs: Any) -> dict[str, Any]:
    task = submit(api, function_name, kwargs=kwargs, retry_count=0)
    done = wait_until(api, task["task_id"])
    assert done["status"] == "completed", done
    result: dict[str, Any] = done["result"]
    return result


def _refused(api: Any, function_name: str, **kwargs: Any) -> dict[str, Any]:
    reply = api.post(SUBMIT, json={"name": "bad", "function_name": function_name, "kwargs": kwargs})
    assert reply.status_code == 400, reply.text
    body: dict[str, Any] = reply.json()
    assert body["error"] == "validation_error"
    return body["details"]


def _expected_members(folder: Path) -> dict[str, bytes]:
    prefix = folder.name
    return {
        f"{prefix}/docs/a.txt": b"alpha",
        f"{prefix}/docs/deep/b.bin": bytes(range(256)) * 100,
        f"{prefix}/table.csv": CSV.encode(),
    }


def test_a_zip_archive_holds_the_folder_and_file_relative_to_the_root(api, folder):
    result = _run(
        api,
        "compress_files",
        paths=[f"{folder.name}/docs", f"{folder.name}/table.csv"],
        output_path="archives/files-it.zip",
    )
    target = Path(result["path"])
    assert target == (folder.parent / "archives" / "files-it.zip").resolve()
    assert result["format"] == "zip" and result["files"] == 3
    assert result["bytes"] == target.stat().st_size
    assert result["skipped"] == [f"{folder.name}/docs/leak.txt"]
    with zipfile.ZipFile(target) as archive:
        assert {name: archive.read(name) for name in archive.namelist()} == _expected_members(
            folder
        )


def test_a_tar_gz_archive_holds_the_same_members_and_content(api, folder):
    result = _run(
        api,
        "compress_files",
        paths=[str(folder / "docs"), str(folder / "table.csv")],
        output_path=str(folder.parent / "archives" / "files-it.tar.gz"),
        format="tar.gz",
    )
    assert result["format"] == "tar.gz" and result["files"] == 3
    with tarfile.open(result["path"], "r:gz") as archive:
        members = archive.getmembers()
        assert all(m.isfile() and not m.name.startswith(("/", "..")) for m in members)
        content = {m.name: archive.extractfile(m).read() for m in members}  # type: ignore[union-attr]
    assert content == _expected_members(folder)


def test_a_checksum_equals_hashlibs(api, folder):
    data = (folder / "docs" / "deep" / "b.bin").read_bytes()
    result = _run(
        api,
        "file_checksum",
        file_path=f"{folder.name}/docs/deep/b.bin",
        algorithms=["sha256", "md5", "sha1", "sha512", "blake2b"],
    )
    assert result["size"] == len(data)
    assert result["checksums"] == {
        name: hashlib.new(name, data).hexdigest()
        for name in ("sha256", "md5", "sha1", "sha512", "blake2b")
    }


def test_csv_to_json_to_parquet_to_csv_keeps_the_data(api, folder):
    import pandas as pd

    to_json = _run(
        api, "convert_file", file_path=f"{folder.name}/table.csv", output_path="conv/t.json"
    )
    assert to_json["rows"] == 3 and to_json["format"] == "json"
    assert to_json["columns"] == ["city", "year", "visitors", "rating"]
    records = json.loads(Path(to_json["path"]).read_text())
    assert records[1] == {"city": "Oslo", "year": 2023, "visitors": 80, "rating": None}
    to_parquet = _run(api, "convert_file", file_path="conv/t.json", output_path="conv/t.parquet")
    assert to_parquet["format"] == "parquet"
    back = _run(
        api, "convert_file", file_path="conv/t.parquet", output_path="conv/t.data", to_format="csv"
    )
    assert back["format"] == "csv"
    pd.testing.assert_frame_equal(pd.read_csv(back["path"]), pd.read_csv(folder / "table.csv"))


def test_a_conversion_to_an_unknown_format_fails_with_the_reason(api, folder):
    task = submit(
        api,
        "convert_file",
        kwargs={"file_path": f"{folder.name}/table.csv", "output_path": "conv/t.xlsx"},
        retry_count=0,
    )
    done = wait_until(api, task["task_id"])
    assert done["status"] == "failed"
    assert "to_format" in done["error"]["message"]


@pytest.mark.parametrize(
    ("function_name", "kwargs", "field"),
    [
        ("compress_files", {"paths": "x", "output_path": "a.zip"}, "kwargs.paths"),
        ("compress_files", {"paths": [], "output_path": "a.zip"}, "kwargs.paths"),
        (
            "compress_files",
            {"paths": ["files-it/docs"], "output_path": "a.7z", "format": "7z"},
            "kwargs.format",
        ),
        (
            "file_checksum",
            {"file_path": "files-it/table.csv", "algorithms": ["crc"]},
            "kwargs.algorithms[0]",
        ),
        (
            "file_checksum",
            {"file_path": "files-it/table.csv", "algorithms": "md5"},
            "kwargs.algorithms",
        ),
        (
            "convert_file",
            {"file_path": "files-it/table.csv", "output_path": "x.csv", "to_format": "xml"},
            "kwargs.to_format",
        ),
        ("convert_file", {"file_path": 12, "output_path": "x.csv"}, "kwargs.file_path"),
    ],
)
def test_mistyped_arguments_get_a_400_naming_the_field(api, folder, function_name, kwargs, field):
    assert _refused(api, function_name, **kwargs)["field"] == field


@pytest.mark.parametrize(
    ("function_name", "path_field", "extra"),
    [
        ("compress_files", "paths", {"output_path": "a.zip"}),
        ("file_checksum", "file_path", {}),
        ("convert_file", "file_path", {"output_path": "x.csv"}),
    ],
)
@pytest.mark.parametrize("path", ["../etc/passwd", "/etc/passwd", "files-it/escape.txt"])
def test_paths_outside_the_data_root_get_a_400(api, folder, function_name, path_field, extra, path):
    value: Any = [path] if path_field == "paths" else path
    details = _refused(api, function_name, **{path_field: value, **extra})
    assert details["field"].startswith(f"kwargs.{path_field}")


@pytest.mark.parametrize(
    ("function_name", "kwargs"),
    [
        ("compress_files", {"paths": ["files-it/docs"], "output_path": "../evil.zip"}),
        ("convert_file", {"file_path": "files-it/table.csv", "output_path": "/tmp/evil.json"}),
    ],
)
def test_outputs_outside_the_data_root_get_a_400(api, folder, function_name, kwargs):
    assert _refused(api, function_name, **kwargs)["field"] == "kwargs.output_path"
