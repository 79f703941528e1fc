"""Sharded conversion on the shared local Ray cluster: shards run as tasks in worker processes,
the merged output is the single-process output byte for byte, and a shard that fails or whose
worker is killed fails the conversion by name and leaves nothing behind."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest
import ray
import ray.cloudpickle

from steprail.datasets import (
    AuditLog,
    DMv2Keypoints,
    RayShards,
    ShardFailedError,
    ShardReport,
    ShardRun,
    ShardSpec,
    convert_in_shards,
    convert_shard,
)
from steprail.datasets._source import CheckedItem
from steprail.datasets._yolo import PreparedYoloItem
from tests._ray_cluster import RayCluster
from tests.datasets._helpers import tree
from tests.datasets._shard_helpers import WRITERS, file_bytes, import_real, leftovers

pytestmark = pytest.mark.ray

# The tasks below are shipped to the workers by value (the workers do not import the tests).
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # type: ignore[no-untyped-call]  # cloudpickle has no annotations


class _Recorded(RayShards):
    """RayShards that keeps each finished shard's report (where it ran)."""

    def __init__(self) -> None:
        super().__init__()
        self.reports: list[ShardReport] = []

    def start(self, specs: Sequence[ShardSpec], on_done: Callable[[ShardReport], None]) -> ShardRun:
        def note(report: ShardReport) -> None:
            self.reports.append(report)
            on_done(report)

        return super().start(specs, note)


def test_a_real_dataset_converted_by_ray_workers_is_byte_identical(
    ray_driver: RayCluster, tmp_path: Path
) -> None:
    source = import_real("coco128", tmp_path)  # 128 items, from Ultralytics' YOLO files
    for target, shards in (("yolo", 3), ("coco", 2)):
        expected = file_bytes(Path(WRITERS[target](source, tmp_path / f"single_{target}").path))
        executor = _Recorded()
        output = tmp_path / f"ray_{target}"
        convert_in_shards(
            source, output, "yolo" if target == "yolo" else "coco", shards=shards,
            executor=executor,
        )  # fmt: skip
        assert file_bytes(output) == expected
        assert sorted(r.index for r in executor.reports) == list(range(shards))
        assert all(not r.worker.endswith(f":{os.getpid()}") for r in executor.reports)
    assert leftovers(tmp_path) == []


def _killed_in_shard_two(spec: ShardSpec) -> ShardReport:
    if spec.index == 1:
        # Half a shard written, then the worker process dies (OOM killer, node lost).
        Path(spec.output_path.with_name(spec.output_path.name + ".partial")).write_bytes(b"x")
        os.kill(os.getpid(), signal.SIGKILL)
    return convert_shard(spec)


def test_a_killed_worker_fails_the_conversion_by_name_and_leaves_nothing(
    ray_driver: RayCluster, tmp_path: Path
) -> None:
    source = import_real("coco8-seg", tmp_path)
    before = tree(tmp_path)
    with pytest.raises(ShardFailedError, match=r"shard 2 of 3 \(.*\) failed: its worker stopped"):
        convert_in_shards(
            source, tmp_path / "out", "yolo", shards=3,
            executor=RayShards(task=_killed_in_shard_two),
        )  # fmt: skip
    assert tree(tmp_path) == before  # no output, no staging, the source untouched


def _failing_on_one_item(spec: ShardSpec) -> ShardReport:
    # Runs in the worker: makes reading one item fail there, as a disk error would.
    import steprail.datasets._shards as shards
    from steprail.datasets._yolo import prepare_yolo_item

    def prepare(
        item: CheckedItem,
        class_ids: Mapping[str, int],
        pose: DMv2Keypoints | None,
        audit: AuditLog,
    ) -> PreparedYoloItem:
        if item.stem == "000000000036":
            raise OSError("input/output error")
        return prepare_yolo_item(item, class_ids, pose, audit)

    # A fault for this task only: the module's name is what convert_shard calls.
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setattr(shards, "prepare_yolo_item", prepare)
    try:
        return convert_shard(spec)
    finally:
        monkeypatch.undo()


def test_a_failing_shard_on_ray_names_its_item_and_leaves_nothing(
    ray_driver: RayCluster, tmp_path: Path
) -> None:
    source = import_real("coco8-seg", tmp_path)
    before = tree(tmp_path)
    with pytest.raises(
        ShardFailedError, match=r"shard \d of 2 .* failed at item valid/000000000036.json: OSError"
    ):
        convert_in_shards(
            source, tmp_path / "out", "yolo", shards=2,
            executor=RayShards(task=_failing_on_one_item),
        )  # fmt: skip
    assert tree(tmp_path) == before


_SIGTERM_DRIVER = """
import os, signal, sys, time
from steprail.datasets import RayShards, convert_in_shards, convert_shard, make_sample_dataset

folder, address = sys.argv[1], sys.argv[2]
source = make_sample_dataset(folder + "/dm", items=6, categorized=False).path
driver = os.getpid()

def terminate_the_driver(spec):
    os.kill(driver, signal.SIGTERM)  # a timeout, docker stop, a CI cancellation
    time.sleep(60)
    return convert_shard(spec)

convert_in_shards(source, folder + "/out", "yolo", shards=2,
                  executor=RayShards(address=address, task=terminate_the_driver))
"""


def test_sigterm_during_a_ray_run_cleans_up_and_exits_143(
    tmp_path: Path, ray_cluster: RayCluster
) -> None:
    # ray.init (made by RayShards here) replaces the conversion's SIGTERM handler with its
    # own (exit 15, no message); the conversion's is put back.
    import subprocess

    script = tmp_path / "driver.py"
    script.write_text(_SIGTERM_DRIVER)
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path), ray_cluster.address],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 143, (done.returncode, done.stderr[-2000:])
    assert not (tmp_path / "out").exists() and leftovers(tmp_path) == []
