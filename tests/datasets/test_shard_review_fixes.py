"""Fixes of the hostile review of sharded conversion (notes/review-shard.md): each test fails
without its fix."""

from __future__ import annotations

import errno
import os
import pickle
import shutil
import stat
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

import steprail.datasets._shards as shards_module
from steprail.datasets import (
    InProcessShards,
    OutputExistsError,
    ShardFailedError,
    ShardReport,
    ShardSpec,
    convert_in_shards,
    convert_shard,
    dmv2_to_coco,
    dmv2_to_yolo,
    make_sample_dataset,
)

from ._shard_helpers import WRITERS, file_bytes, leftovers


class _Payload:
    """What a hostile pickle does when loaded: creates ``marker`` (stands for any code)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, ...]]:
        return (os.mkdir, (str(self.marker),))


def _sample(tmp_path: Path, items: int = 8) -> Path:
    return Path(make_sample_dataset(tmp_path / "dm", items=items, categorized=False).path)


def test_the_staging_folder_is_private_to_the_user(tmp_path: Path) -> None:
    seen: list[int] = []

    def look(spec: ShardSpec) -> ShardReport:
        found = os.lstat(spec.staging)
        assert found.st_uid == os.geteuid()
        seen.append(stat.S_IMODE(found.st_mode))
        return convert_shard(spec)

    old = os.umask(0o002)  # a group-writable default, as for users on Ubuntu
    try:
        convert_in_shards(_sample(tmp_path), tmp_path / "out", "yolo", shards=2,
                          executor=InProcessShards(look))  # fmt: skip
    finally:
        os.umask(old)
    assert seen == [0o700, 0o700]


def test_a_swapped_shard_file_runs_no_code_and_names_the_shard(tmp_path: Path) -> None:
    marker = tmp_path / "code-ran"

    def swap(spec: ShardSpec) -> ShardReport:
        report = convert_shard(spec)
        Path(report.path).write_bytes(pickle.dumps([_Payload(marker)]))
        return report

    with pytest.raises(ShardFailedError, match=r"shard 1 of 2 .*'shard-00000.pickle'.*mkdir"):
        convert_in_shards(_sample(tmp_path), tmp_path / "out", "coco", shards=2,
                          executor=InProcessShards(swap))  # fmt: skip
    assert not marker.exists()
    assert not (tmp_path / "out").exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize("foreign", [[1, 2], 7, [("item", (), 3)], [("end", (), -1, 0)]])
def test_a_foreign_shard_file_is_a_shard_failure(tmp_path: Path, foreign: object) -> None:
    def swap(spec: ShardSpec) -> ShardReport:
        report = convert_shard(spec)
        Path(report.path).write_bytes(pickle.dumps(foreign))
        return report

    with pytest.raises(ShardFailedError, match=r"shard 1 of 1 .*is not one this conversion"):
        convert_in_shards(_sample(tmp_path), tmp_path / "out", "yolo", shards=1,
                          executor=InProcessShards(swap))  # fmt: skip
    assert not (tmp_path / "out").exists()


def test_a_staging_folder_replaced_by_another_is_never_read(tmp_path: Path) -> None:
    marker = tmp_path / "code-ran"

    def replace_folder(spec: ShardSpec) -> ShardReport:
        if spec.index == 1:  # someone who can write in the parent swaps the folder
            staging = Path(spec.staging)
            staging.rename(staging.with_name(staging.name + ".old"))
            staging.mkdir()
            (staging / spec.output_path.name).write_bytes(pickle.dumps([_Payload(marker)]))
            return ShardReport(spec.index, spec.items, str(spec.output_path), "attacker")
        return convert_shard(spec)

    with pytest.raises(ShardFailedError, match=r"shard 2 of 2 .*cannot be opened"):
        convert_in_shards(_sample(tmp_path), tmp_path / "out", "yolo", shards=2,
                          executor=InProcessShards(replace_folder))  # fmt: skip
    assert not marker.exists()
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("target", ["yolo", "coco"])
def test_an_image_swapped_for_a_symlink_after_its_check_is_refused(
    tmp_path: Path, target: str
) -> None:
    source = _sample(tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the output")

    def swap_images_after_the_checks(spec: ShardSpec) -> ShardReport:
        report = convert_shard(spec)
        if spec.index == spec.shards - 1:  # every shard has checked its images
            for image in (source / "original_files").iterdir():
                image.unlink()
                image.symlink_to(secret)
        return report

    with pytest.raises(ShardFailedError, match=r"the image .* changed .* after the shard checked"):
        convert_in_shards(source, tmp_path / "out", target, shards=2,  # type: ignore[arg-type]
                          executor=InProcessShards(swap_images_after_the_checks))  # fmt: skip
    assert not (tmp_path / "out").exists()


def test_a_relative_source_is_recorded_as_the_single_process_run_records_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _sample(tmp_path)
    monkeypatch.chdir(tmp_path)
    single = dmv2_to_yolo(Path("dm"), tmp_path / "single")
    sharded = convert_in_shards("dm", tmp_path / "sharded", "yolo", shards=2)
    assert sharded.source_path == single.source_path == "dm"
    assert file_bytes(tmp_path / "sharded") == file_bytes(tmp_path / "single")


def test_a_huge_shard_count_costs_no_more_than_the_items(tmp_path: Path) -> None:
    source = _sample(tmp_path)
    # Planned per shard asked for, 10**6 shards of 8 items would hold tens of megabytes (and
    # 10**9 would not fit in memory); planned per item it is a few kilobytes.
    tracemalloc.start()
    try:
        result = convert_in_shards(source, tmp_path / "out", "coco", shards=10**6)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.audit.items_written == 8
    assert peak < 4 * 2**20, peak


@pytest.mark.parametrize("bad", [True, 2.5, "3", 0, -1])
def test_a_bad_shard_count_is_a_value_error_before_any_work(tmp_path: Path, bad: object) -> None:
    source = _sample(tmp_path)
    with pytest.raises(ValueError, match=r"shards="):
        convert_in_shards(source, tmp_path / "out", "yolo", shards=bad)  # type: ignore[arg-type]
    assert not (tmp_path / "out").exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize("bad", [True, 2.5, "3"])
def test_the_step_refuses_a_shard_count_that_is_no_int_when_made(bad: object) -> None:
    from steprail.datasets import ConvertDatasetStep

    with pytest.raises(ValueError, match=r"ConvertDatasetStep\(shards=.*must be an int"):
        ConvertDatasetStep(target_format="yolo", shards=bad)  # type: ignore[arg-type]


def test_a_used_output_gets_the_single_process_messages(tmp_path: Path) -> None:
    source = _sample(tmp_path)
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    with pytest.raises(OutputExistsError, match=r"exists and is not a folder"):
        convert_in_shards(source, a_file, "yolo", shards=2)
    # What a run killed outright leaves: its claim file (a dead pid), and no audit.json.
    (tmp_path / "left" / ".steprail-claim").parent.mkdir()
    (tmp_path / "left" / ".steprail-claim").write_text("999999999\n")
    with pytest.raises(OutputExistsError) as single:
        dmv2_to_coco(source, tmp_path / "left")
    with pytest.raises(OutputExistsError) as sharded:
        convert_in_shards(source, tmp_path / "left", "coco", shards=2)
    assert "interrupted run" in str(single.value)
    assert str(sharded.value) == str(single.value)


def test_the_final_progress_is_reported_once(tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    convert_in_shards(_sample(tmp_path), tmp_path / "out", "yolo", shards=3,
                      progress=lambda done, total: seen.append((done, total)))  # fmt: skip
    assert seen[-1] == (16, 16) and seen.count((16, 16)) == 1
    assert seen == sorted(set(seen))


def test_an_output_name_near_the_name_limit_works_as_single_process(tmp_path: Path) -> None:
    source = _sample(tmp_path)
    name = "L" * 250  # the single-process converter takes up to 255 bytes
    dmv2_to_yolo(source, tmp_path / "single" / name)
    convert_in_shards(source, tmp_path / "sharded" / name, "yolo", shards=2)
    assert file_bytes(tmp_path / "sharded" / name) == file_bytes(tmp_path / "single" / name)


@pytest.mark.parametrize("target", ["yolo", "coco"])
def test_an_empty_output_folder_under_a_read_only_parent_works_as_single_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    source = _sample(tmp_path)
    read_only = tmp_path / "mount"
    for name in ("single", "sharded"):
        (read_only / name).mkdir(parents=True)  # made by an admin, or a mount point
    real_mkdir = os.mkdir

    def mkdir(path: str | os.PathLike[str], mode: int = 0o777, **kwargs: object) -> None:
        # What a read-only file system (or a parent this user may not write) answers; tests
        # run as root here, where a chmod would not refuse anything.
        if Path(path).parent == read_only and not Path(path).exists():
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        real_mkdir(path, mode, **kwargs)  # type: ignore[arg-type]  # dir_fd, passed through

    monkeypatch.setattr(os, "mkdir", mkdir)
    single = WRITERS[target](source, read_only / "single")
    sharded = convert_in_shards(source, read_only / "sharded", target, shards=3)  # type: ignore[arg-type]
    assert file_bytes(read_only / "sharded") == file_bytes(read_only / "single")
    assert sharded.audit == single.audit
    assert sorted(p.name for p in read_only.iterdir()) == ["sharded", "single"]


def test_a_failed_run_with_staging_inside_the_output_leaves_it_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _sample(tmp_path)
    read_only = tmp_path / "mount"
    (read_only / "out").mkdir(parents=True)
    real_mkdir = os.mkdir

    def mkdir(path: str | os.PathLike[str], mode: int = 0o777, **kwargs: object) -> None:
        if Path(path).parent == read_only and not Path(path).exists():
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        real_mkdir(path, mode, **kwargs)  # type: ignore[arg-type]  # dir_fd, passed through

    def fail(spec: ShardSpec) -> ShardReport:
        if spec.index == 1:
            raise ShardFailedError("shard 2 failed on purpose")
        return convert_shard(spec)

    monkeypatch.setattr(os, "mkdir", mkdir)
    with pytest.raises(ShardFailedError, match="on purpose"):
        convert_in_shards(source, read_only / "out", "yolo", shards=2,
                          executor=InProcessShards(fail))  # fmt: skip
    assert list((read_only / "out").iterdir()) == []


def _change_after_the_last_shard(change: Callable[[], None]) -> InProcessShards:
    def run(spec: ShardSpec) -> ShardReport:
        report = convert_shard(spec)
        if spec.index == spec.shards - 1:  # every shard has listed and checked its slice
            change()
        return report

    return InProcessShards(run)


@pytest.mark.parametrize("target", ["yolo", "coco"])
def test_an_item_added_during_the_run_fails_it(tmp_path: Path, target: str) -> None:
    source = _sample(tmp_path)
    some_item = next((source / "json").iterdir())

    def add() -> None:
        for name in ("aaa_new", "zzz_new"):  # wherever the folder lists them
            shutil.copy(some_item, source / "json" / f"{name}.json")

    with pytest.raises(ShardFailedError, match=r"changed during the conversion .*zzz_new"):
        convert_in_shards(source, tmp_path / "out", target, shards=2,  # type: ignore[arg-type]
                          executor=_change_after_the_last_shard(add))  # fmt: skip
    assert not (tmp_path / "out").exists() and leftovers(tmp_path) == []


def test_a_split_made_during_the_run_fails_it(tmp_path: Path) -> None:
    source = Path(make_sample_dataset(tmp_path / "dm", items=9, categorized=True).path)
    (source / "test").rename(tmp_path / "held")  # the dataset has train and valid only

    def add_split() -> None:
        (tmp_path / "held").rename(source / "test")

    with pytest.raises(ShardFailedError, match=r"changed during the conversion .*'test'"):
        convert_in_shards(source, tmp_path / "out", "yolo", shards=2,
                          executor=_change_after_the_last_shard(add_split))  # fmt: skip
    assert not (tmp_path / "out").exists()


def test_a_stray_upper_case_extension_is_not_a_second_image(tmp_path: Path) -> None:
    source = _sample(tmp_path)
    image = source / "original_files" / "item_000004.png"
    shutil.copy(image, image.with_suffix(".PNG"))  # never opened: readers try .png
    dmv2_to_yolo(source, tmp_path / "single")
    convert_in_shards(source, tmp_path / "sharded", "yolo", shards=3)
    assert file_bytes(tmp_path / "sharded") == file_bytes(tmp_path / "single")


def test_a_failure_writing_the_shard_file_names_the_file_not_an_item(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(batch: object, out: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(shards_module, "_dump", full_disk)
    with pytest.raises(ShardFailedError) as failed:
        convert_in_shards(_sample(tmp_path), tmp_path / "out", "yolo", shards=2)
    message = str(failed.value)
    assert "cannot write its file" in message and "shard-00000.pickle.partial" in message
    assert "No space left on device" in message and "at item" not in message
    assert not (tmp_path / "out").exists() and leftovers(tmp_path) == []


def test_a_staging_folder_made_in_advance_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uuid

    fixed = uuid.UUID(int=7)
    monkeypatch.setattr(uuid, "uuid4", lambda: fixed)  # the name the run picks
    planted = tmp_path / f".steprail-shards-{fixed.hex[:12]}"
    planted.mkdir(mode=0o777)
    (planted / "shard-00000.pickle").write_bytes(b"not ours")
    with pytest.raises(ShardFailedError, match=r"exists already: refused"):
        convert_in_shards(_sample(tmp_path), tmp_path / "out", "yolo", shards=2)
    assert (planted / "shard-00000.pickle").read_bytes() == b"not ours"  # left as it was
    assert not (tmp_path / "out").exists()
