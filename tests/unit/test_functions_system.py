from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vokaflow.functions import system
from vokaflow.functions.arguments import ArgumentError
from vokaflow.functions.registry import registry
from vokaflow.store import backups

HOUR = 3600.0


def _aged(path: Path, content: bytes, age_s: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    then = time.time() - age_s
    os.utime(path, (then, then))
    return path


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A VOKAFLOW_HOME with no Redis: the functions do their file work only."""
    monkeypatch.setenv("VOKAFLOW_HOME", str(tmp_path))
    monkeypatch.delenv("VOKAFLOW_DATA_ROOTS", raising=False)
    monkeypatch.delenv("VOKAFLOW_REDIS_URL", raising=False)
    return tmp_path


def test_old_files_under_tmp_and_results_go_and_new_ones_stay(tmp_path: Path):
    old = _aged(tmp_path / "tmp" / "deep" / "old.bin", b"x" * 100, 2 * HOUR)
    new = _aged(tmp_path / "results" / "new.json", b"{}", 0)
    elsewhere = _aged(tmp_path / "keep" / "old.bin", b"x", 2 * HOUR)
    found = system.remove_old_files(tmp_path, ("tmp", "results"), time.time() - HOUR, False)
    assert found == {"files_removed": 1, "bytes_freed": 100, "folders_removed": 0}
    assert not old.exists() and new.exists() and elsewhere.exists()


def test_a_dry_run_counts_what_would_go_and_removes_nothing(tmp_path: Path):
    old = _aged(tmp_path / "tmp" / "old.bin", b"x" * 7, 2 * HOUR)
    found = system.remove_old_files(tmp_path, ("tmp",), time.time() - HOUR, True)
    assert (found["files_removed"], found["bytes_freed"]) == (1, 7)
    assert old.exists()


def test_an_old_empty_folder_goes_but_a_new_one_stays(tmp_path: Path):
    (tmp_path / "tmp" / "stale").mkdir(parents=True)
    (tmp_path / "tmp" / "fresh").mkdir()
    then = time.time() - 2 * HOUR
    os.utime(tmp_path / "tmp" / "stale", (then, then))
    found = system.remove_old_files(tmp_path, ("tmp",), time.time() - HOUR, False)
    assert found["folders_removed"] == 1
    assert not (tmp_path / "tmp" / "stale").exists()
    assert (tmp_path / "tmp" / "fresh").exists()


def test_a_tmp_folder_that_is_a_symlink_out_of_the_root_is_left_alone(tmp_path: Path):
    outside = _aged(tmp_path / "outside" / "precious.txt", b"x", 2 * HOUR)
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "tmp").symlink_to(tmp_path / "outside")
    found = system.remove_old_files(tmp_path / "root", ("tmp",), time.time(), False)
    assert found["files_removed"] == 0
    assert outside.exists()


def test_cache_cleanup_without_redis_cleans_the_first_data_roots_files(home: Path):
    old = _aged(home / "data" / "results" / "t1.json", b"{}", 30 * HOUR)
    answer = system.cache_cleanup()
    assert answer["files_removed"] == 1
    assert answer["redis"] is None
    assert not old.exists()


def test_cache_cleanup_also_cleans_each_principal_s_results_but_no_linked_folder(
    home: Path, tmp_path: Path
):
    mine = _aged(home / "data" / "principals" / "alice" / "results" / "t2.json", b"{}", 30 * HOUR)
    outside = _aged(tmp_path / "elsewhere" / "results" / "keep.json", b"{}", 30 * HOUR)
    (home / "data" / "principals" / "linked").symlink_to(tmp_path / "elsewhere")
    answer = system.cache_cleanup()
    assert answer["files_removed"] == 1
    assert not mine.exists() and outside.exists()
    assert str(home / "data" / "principals" / "alice" / "results") in answer["folders"]


def test_rotation_shifts_the_gzipped_copies_and_keeps_only_keep_of_them(tmp_path: Path):
    log = tmp_path / "service.log"
    for generation in range(4):
        log.write_text(f"generation {generation}\n")
        system.rotate_file(log, keep=2)
    assert log.read_bytes() == b""
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "service.log",
        "service.log.1.gz",
        "service.log.2.gz",
    ]
    assert gzip.decompress((tmp_path / "service.log.1.gz").read_bytes()) == b"generation 3\n"
    assert gzip.decompress((tmp_path / "service.log.2.gz").read_bytes()) == b"generation 2\n"


def test_a_writer_holding_the_log_open_goes_on_writing_to_it(tmp_path: Path):
    log = tmp_path / "service.log"
    with log.open("a") as writer:
        writer.write("before\n")
        writer.flush()
        system.rotate_file(log, keep=1)
        writer.write("after\n")
    assert log.read_text() == "after\n"


def test_only_logs_over_max_bytes_are_rotated(tmp_path: Path):
    big = _aged(tmp_path / "logs" / "big.log", b"x" * 2000, 0)
    small = _aged(tmp_path / "logs" / "small.log", b"x" * 10, 0)
    _aged(tmp_path / "logs" / "notes.txt", b"x" * 2000, 0)
    rotated = system.rotate_logs(system.log_files(tmp_path), max_bytes=1000, keep=3)
    assert rotated == [{"path": str(big), "bytes": 2000}]
    assert small.read_bytes() == b"x" * 10


def test_log_rotation_without_redis_rotates_the_homes_logs(home: Path):
    _aged(home / "logs" / "gateway.log", b"x" * 5000, 0)
    _aged(home / "redis" / "redis.log", b"y" * 5000, 0)
    answer = system.log_rotation(max_bytes=1024, keep=3)
    assert [Path(r["path"]).name for r in answer["rotated"]] == ["gateway.log", "redis.log"]
    assert (home / "redis" / "redis.log.1.gz").exists()
    assert answer["streams_trimmed"] is None


def _backup(tmp_path: Path, lines: list[str], finished: bool = True) -> Path:
    path = tmp_path / "b.rdbdump"
    header = json.dumps(backups.backup_header("svc", 1.0))
    trailer = [json.dumps({"end": True, "keys": len(lines)})] if finished else []
    path.write_text("\n".join([header, *lines, *trailer]) + "\n")
    return path


def test_a_backup_reads_back_its_keys_values_and_expiry(tmp_path: Path):
    lines = [
        backups.backup_line(b"svc:a", b"\x00\xffdump", None),
        backups.backup_line(b"svc:{p1}:task:t", b"v", 123),
    ]
    header, entries = backups.read_backup(_backup(tmp_path, lines))
    assert header["prefix"] == "svc"
    assert entries == [
        backups.BackupEntry(b"svc:a", b"\x00\xffdump", None),
        backups.BackupEntry(b"svc:{p1}:task:t", b"v", 123),
    ]


def test_a_backup_cut_short_is_refused(tmp_path: Path):
    path = _backup(tmp_path, [backups.backup_line(b"svc:a", b"v", None)], finished=False)
    with pytest.raises(ValueError, match="incomplete"):
        backups.read_backup(path)


def test_a_file_of_another_kind_is_not_a_backup(tmp_path: Path):
    (tmp_path / "x.rdbdump").write_text('{"hello": 1}\n')
    with pytest.raises(ValueError, match="not a VokaFlow backup"):
        backups.read_backup(tmp_path / "x.rdbdump")


def test_a_restored_key_moves_to_the_new_prefix_keeping_its_hash_tag():
    assert backups.renamed(b"svc:{p3}:task:t", "svc", "copy") == b"copy:{p3}:task:t"
    with pytest.raises(ValueError, match="not under the prefix"):
        backups.renamed(b"other:x", "svc", "copy")


@pytest.mark.parametrize(
    ("name", "kwargs", "field"),
    [
        ("cache_cleanup", {"older_than_hours": -1}, "kwargs.older_than_hours"),
        ("cache_cleanup", {"dry_run": "perhaps"}, "kwargs.dry_run"),
        ("log_rotation", {"keep": 0}, "kwargs.keep"),
        ("log_rotation", {"keep": 101}, "kwargs.keep"),
        ("log_rotation", {"max_bytes": 0}, "kwargs.max_bytes"),
        ("backup_state", {"label": "../x"}, "kwargs.label"),
        ("backup_state", {"label": ""}, "kwargs.label"),
    ],
)
def test_bad_arguments_are_refused_naming_the_field(name, kwargs, field):
    with pytest.raises(ArgumentError) as raised:
        registry.get(name).validated([], kwargs)
    assert raised.value.field == field


def test_backup_state_without_redis_says_so(home: Path):
    with pytest.raises(RuntimeError, match="no Redis to back up"):
        system.backup_state()


# --- ended Ray sessions ------------------------------------------------------------------


def _session(temp_dir: Path, name: str, age_s: float) -> Path:
    folder = temp_dir / f"session_2026-11-0{name}_00-00-00_000000_1"
    (folder / "logs").mkdir(parents=True)
    (folder / "logs" / "raylet.out").write_text("x" * 100)
    stamp = time.time() - age_s
    for path in (folder, folder / "logs", folder / "logs" / "raylet.out"):
        os.utime(path, (stamp, stamp))
    return folder


def test_ended_sessions_go_but_live_ones_and_the_newest_ended_stay(tmp_path: Path):
    old = [_session(tmp_path, str(n), 3600) for n in range(1, 6)]
    (tmp_path / "session_latest").symlink_to(old[-1])
    live = {old[2]}
    assert system.ended_ray_sessions(tmp_path, live, keep=1) == [old[0], old[1], old[3]]
    assert system.ended_ray_sessions(tmp_path, live, keep=0) == [old[0], old[1], old[3], old[4]]


def test_a_session_folder_changed_moments_ago_is_left_alone(tmp_path: Path):
    starting = _session(tmp_path, "1", 5)  # its processes may not have started yet
    assert system.ended_ray_sessions(tmp_path, set(), keep=0) == []
    assert starting.exists()


def test_a_session_named_on_a_running_process_s_command_line_is_live(tmp_path: Path):
    session = tmp_path / "session_2026-11-01_00-00-00_000000_7"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(30)", f"--session-dir={session}"]
    )
    try:
        deadline = time.monotonic() + 10
        while session not in system.live_ray_sessions():
            assert time.monotonic() < deadline, "the session was never seen as live"
            time.sleep(0.05)
    finally:
        holder.kill()
        holder.wait()


def test_a_session_whose_logs_still_change_is_left_alone(tmp_path: Path):
    quiet = _session(tmp_path, "1", 3600)
    busy = _session(tmp_path, "2", 3600)
    os.utime(busy / "logs" / "raylet.out")  # written just now, by processes out of sight
    assert system.ended_ray_sessions(tmp_path, set(), keep=0) == [quiet]
