"""Opening the store on a full disk or a read-only mount names the fault and leaves no half-made
file behind (a small tmpfs; skipped where this process cannot mount one)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from steprail.cli import app
from steprail.jobs import JobStore, JobStoreFullError, JobStoreReadOnlyError


def _mount(folder: Path, options: str) -> None:
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], check=True, capture_output=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "disk"
    folder.mkdir()
    try:
        _mount(folder, "size=64k")
    except (OSError, subprocess.CalledProcessError) as error:
        pytest.skip(f"cannot mount a tmpfs here ({error})")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False, capture_output=True)


def _fill(disk: Path, free_kib: int) -> None:
    (disk / "filler").write_bytes(b"\0" * ((64 - free_kib) * 1024))


@pytest.mark.parametrize("free_kib", [4, 16])  # 4: "database or disk is full"; 16: "disk I/O error"
def test_a_full_disk_at_open_is_named_and_leaves_no_file(small_disk: Path, free_kib: int) -> None:
    _fill(small_disk, free_kib)
    path = small_disk / "jobs.sqlite3"
    with pytest.raises(JobStoreFullError, match="the disk is full"):
        JobStore(path)
    assert sorted(entry.name for entry in small_disk.iterdir()) == ["filler"]
    result = CliRunner().invoke(app, ["run", "tests.cli._sample_actions:FileStepsAction", "--store", str(path)])
    assert result.exit_code == 2 and "the disk is full" in result.output, result.output
    listing = CliRunner().invoke(app, ["jobs", "list", "--store", str(path)])
    assert "damaged" not in listing.output, listing.output


def test_a_read_only_mount_refuses_writes_and_still_lists(small_disk: Path) -> None:
    subprocess.run(["mount", "-o", "remount,size=1m", str(small_disk)], check=True, capture_output=True)
    path = small_disk / "jobs.sqlite3"
    with JobStore(path) as store:
        store.create_job("a:B", {})
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True, capture_output=True)
    with pytest.raises(JobStoreReadOnlyError, match="is read-only"):
        JobStore(path)
    with pytest.raises(JobStoreReadOnlyError, match="cannot be created: its folder is read-only"):
        JobStore(small_disk / "new.sqlite3")
    with JobStore(path, read_only=True) as store:
        assert [job.action for job in store.list_jobs()] == ["a:B"]
