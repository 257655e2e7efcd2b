"""``files`` functions: archives, checksums and table format conversion, all confined to the
data roots.

Archive members are named relative to the data root their file lies in, so an archive never
holds an absolute path or a ``..``. Symlinks met while walking a folder are followed only when
their target lies inside the roots (a file symlink is stored as the file it points to);
folder symlinks are never descended, which also keeps link loops out.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field

from vokaflow.domain import WorkerType
from vokaflow.functions.context import report_progress
from vokaflow.functions.data_roots import DataPath, OutputPath, current_roots, sibling
from vokaflow.functions.registry import function

if TYPE_CHECKING:
    import pyarrow as pa

ArchiveFormat = Literal["zip", "tar.gz"]
HashAlgorithm = Literal["sha256", "sha1", "md5", "sha512", "blake2b"]
TableFormat = Literal["csv", "json", "parquet"]

CHUNK_BYTES = 1024 * 1024
PROGRESS_EVERY_FILES = 100
TABLE_SUFFIXES: dict[str, TableFormat] = {
    ".csv": "csv",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
    ".parquet": "parquet",
    ".pq": "parquet",
}


# --- compress_files -------------------------------------------------------------------


def root_of(path: Path, roots: list[Path]) -> Path:
    """The deepest data root that holds ``path`` (roots may nest)."""
    holding = [root.resolve() for root in roots if path.is_relative_to(root.resolve())]
    if not holding:
        raise ValueError(f"{path} lies outside the data roots")
    return max(holding, key=lambda root: len(root.parts))


def inside_roots(path: Path, roots: list[Path]) -> bool:
    return any(path.is_relative_to(root.resolve()) for root in roots)


def archive_entries(
    paths: list[Path], roots: list[Path], skip: Path | None = None
) -> tuple[list[tuple[Path, str]], list[str]]:
    """(file to read, member name) for every file under ``paths``, each once, and the names
    of symlinks left out because they lead outside the roots (or nowhere)."""
    entries: dict[str, Path] = {}
    skipped: list[str] = []
    for path in paths:
        root = root_of(path, roots)
        for candidate in _walk(path):
            member = candidate.relative_to(root).as_posix()
            target = candidate.resolve()
            if not target.is_file() or not inside_roots(target, roots):
                skipped.append(member)
            elif target != skip:
                entries.setdefault(member, target)
    return sorted((source, member) for member, source in entries.items()), skipped


def _walk(path: Path) -> Iterator[Path]:
    """Files and symlinks to files under ``path`` (or ``path`` itself), without descending
    into symlinked folders."""
    if not path.is_dir():
        yield path
        return
    for folder, dirnames, filenames in os.walk(path, followlinks=False):
        dirnames.sort()
        for name in sorted(filenames):
            yield Path(folder) / name
        for name in dirnames:
            if (Path(folder) / name).is_symlink():
                yield Path(folder) / name  # reported as skipped: not a file


def _write_zip(target: Path, entries: list[tuple[Path, str]]) -> None:
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for done, (source, member) in enumerate(entries, start=1):
            archive.write(source, arcname=member)
            _progress(done, len(entries))


def _write_tar_gz(target: Path, entries: list[tuple[Path, str]]) -> None:
    with tarfile.open(target, "w:gz") as archive:
        for done, (source, member) in enumerate(entries, start=1):
            info = archive.gettarinfo(str(source), arcname=member)
            with source.open("rb") as stream:
                archive.addfile(info, stream)
            _progress(done, len(entries))


def _progress(done: int, total: int) -> None:
    if done % PROGRESS_EVERY_FILES == 0 or done == total:
        report_progress(done / total, files_done=done)


@function(
    category="files",
    worker_type=WorkerType.IO_INTENSIVE,
    description="Packs files and folders (recursively) from the data roots into a zip or "
    "tar.gz archive",
    estimated_duration="1-30 seconds",
)
def compress_files(
    paths: Annotated[list[DataPath], Field(min_length=1, max_length=10000)],
    output_path: OutputPath,
    format: ArchiveFormat = "zip",
) -> dict[str, Any]:
    roots = current_roots()
    target = Path(output_path)
    entries, skipped = archive_entries([Path(p) for p in paths], roots, skip=target.resolve())
    if not entries:
        raise ValueError("nothing to compress: the paths hold no files")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = sibling(target, target.name + ".partial")
    try:
        (_write_zip if format == "zip" else _write_tar_gz)(partial, entries)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return {
        "path": str(target),
        "format": format,
        "files": len(entries),
        "bytes": target.stat().st_size,
        "input_bytes": sum(source.stat().st_size for source, _ in entries),
        "skipped": skipped,
    }


# --- file_checksum --------------------------------------------------------------------


def checksums(path: Path, algorithms: list[str]) -> tuple[int, dict[str, str]]:
    """The file's size and its digests, read once in chunks whatever the number of
    algorithms."""
    hashers = {name: hashlib.new(name) for name in dict.fromkeys(algorithms)}
    size = 0
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK_BYTES):
            size += len(chunk)
            for hasher in hashers.values():
                hasher.update(chunk)
    return size, {name: hasher.hexdigest() for name, hasher in hashers.items()}


@function(
    category="files",
    worker_type=WorkerType.IO_INTENSIVE,
    description="Computes a file's checksums (sha256, sha1, md5, sha512, blake2b) in one pass",
    estimated_duration="<5 seconds",
)
def file_checksum(
    file_path: DataPath,
    algorithms: Annotated[tuple[HashAlgorithm, ...], Field(min_length=1, max_length=5)] = (
        "sha256",
    ),
) -> dict[str, Any]:
    path = Path(file_path)
    if not path.is_file():
        raise ValueError(f"not a file: {file_path}")
    size, digests = checksums(path, list(algorithms))
    return {"path": str(path), "size": size, "checksums": digests}


# --- convert_file ---------------------------------------------------------------------


def table_format(path: Path, declared: TableFormat | None, role: str) -> TableFormat:
    """The declared format, or the one the suffix names."""
    if declared is not None:
        return declared
    derived = TABLE_SUFFIXES.get(path.suffix.lower())
    if derived is None:
        raise ValueError(
            f"cannot tell the {role} format from {path.name!r}: name it with "
            f"{role}_format (csv, json or parquet)"
        )
    return derived


def read_table(path: Path, fmt: TableFormat) -> pa.Table:
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    if fmt == "csv":
        return pa_csv.read_csv(path)
    if fmt == "parquet":
        return pq.read_table(path)
    if _starts_with_bracket(path):  # a JSON array of objects
        with path.open(encoding="utf-8") as stream:
            records = json.load(stream)
        if not all(isinstance(record, dict) for record in records):
            raise ValueError("a JSON table is a list of objects, one per row")
        return pa.Table.from_pylist(records)
    import pyarrow.json as pa_json

    return pa_json.read_json(path)  # JSON lines: one object per line


def _starts_with_bracket(path: Path) -> bool:
    with path.open("rb") as stream:
        head = stream.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"[")


def write_table(table: pa.Table, path: Path, fmt: TableFormat) -> None:
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    if fmt == "csv":
        pa_csv.write_csv(table, path)
    elif fmt == "parquet":
        pq.write_table(table, path)
    else:
        with path.open("w", encoding="utf-8") as stream:
            json.dump(json_safe(table.to_pylist()), stream, default=str, ensure_ascii=False)


def json_safe(value: Any) -> Any:
    """NaN and infinities become null: JSON has no spelling for them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_safe(item) for item in value]
    return value


@function(
    category="files",
    worker_type=WorkerType.CPU_INTENSIVE,
    description="Converts a table between CSV, JSON (a list of objects) and Parquet",
    estimated_duration="1-30 seconds",
)
def convert_file(
    file_path: DataPath,
    output_path: OutputPath,
    to_format: TableFormat | None = None,
    from_format: TableFormat | None = None,
) -> dict[str, Any]:
    source, target = Path(file_path), Path(output_path)
    if not source.is_file():
        raise ValueError(f"not a file: {file_path}")
    reading = table_format(source, from_format, "from")
    writing = table_format(target, to_format, "to")
    table = read_table(source, reading)
    report_progress(0.5, rows=table.num_rows)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = sibling(target, target.name + ".partial")
    try:
        write_table(table, partial, writing)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return {
        "path": str(target),
        "rows": table.num_rows,
        "columns": table.column_names,
        "format": writing,
    }
