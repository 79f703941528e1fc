"""Benchmark: a DM v2 dataset converted to YOLO and COCO in shards by Ray workers, against the
single-process converter measured in the same run.

    python benchmarks/bench_ray_convert.py                    # 20 000 items (quick)
    python benchmarks/bench_ray_convert.py --items 200000     # the issue's size
    python benchmarks/bench_ray_convert.py --address ADDR     # an existing cluster instead

Without ``--address`` it starts its own local Ray cluster with ``ray.init(num_cpus=2)`` (two
workers: the machine this was written for has two cores) and stops it at the end. One
generated flat dataset (``--boxes`` boxes and ``--polygons`` polygons per item, 64x48 PNGs,
sizes not in the JSON, so every image header is read) is converted, interleaved, per repeat:

* **single process**: ``dmv2_to_yolo`` / ``dmv2_to_coco`` (the baseline every ratio is against);
* **Ray, 1 worker**: ``convert_in_shards(shards=1, executor=RayShards())``;
* **Ray, 2 workers**: ``shards=2`` (each task asks for one CPU: both run at once);
* **Ray, 2 workers, 8 shards**: smaller shards, so the driver's merge starts sooner;
* the **driver's serial share**: the same conversion with every shard done in this process
  before the merge starts, minus the shards' time: what no number of workers removes.

Times are medians over ``--repeats``. The driver's merge (naming, ids, writing every file) is
serial and runs beside the workers on the same two cores, so the ideal speed-up here is below
2x; see docs/ray-conversion.md for how it scales to more nodes. Each sharded output is checked
byte for byte against the single-process one (first repeat).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from steprail.datasets import (
    ConversionResult,
    InProcessShards,
    RayShards,
    ShardReport,
    ShardRun,
    ShardSpec,
    ShardTarget,
    convert_in_shards,
    dmv2_to_coco,
    dmv2_to_yolo,
    make_sample_dataset,
)

type _Run = Callable[[Path, Path], ConversionResult]


class _ShardsFirst(InProcessShards):
    """Runs every shard in this process before the merge starts and times them apart, so the
    rest of the run is the driver's serial share (planning and the merge)."""

    def __init__(self) -> None:
        super().__init__()
        self.shard_seconds = 0.0

    def start(
        self, specs: Sequence[ShardSpec], on_done: Callable[[ShardReport], None]
    ) -> ShardRun:
        begin = time.perf_counter()
        run = super().start(specs, on_done)
        for spec in specs:
            run.result(spec.index)
        self.shard_seconds += time.perf_counter() - begin
        return run


def _digests(root: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = Path(folder) / name
            found[path.relative_to(root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def _variants(target: str) -> list[tuple[str, _Run]]:
    single: _Run = dmv2_to_yolo if target == "yolo" else dmv2_to_coco
    fmt: ShardTarget = "yolo" if target == "yolo" else "coco"

    def sharded(shards: int) -> _Run:
        def run(source: Path, output: Path) -> ConversionResult:
            return convert_in_shards(source, output, fmt, shards=shards, executor=RayShards())

        return run

    return [
        ("single process", single),
        ("Ray, 1 worker", sharded(1)),
        ("Ray, 2 workers", sharded(2)),
        ("Ray, 2 workers, 8 shards", sharded(8)),
    ]


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--boxes", type=int, default=10)
    parser.add_argument("--polygons", type=int, default=2)
    parser.add_argument("--targets", nargs="+", choices=("yolo", "coco"), default=["yolo", "coco"])
    parser.add_argument("--address", default=None, help="an existing Ray cluster (default: start one)")
    args = parser.parse_args(argv)

    if args.address is None and "RAY_AUTH_MODE" not in os.environ:
        # A new local cluster turns Ray's token authentication on and, with no token given,
        # writes one to ~/.ray/auth_token, which every later `ray start` on the machine then
        # picks up (other clusters' clients, without it, are refused). A token of its own, in
        # the environment its processes inherit, keeps the machine as it was. Set before Ray
        # is imported: it reads its configuration then.
        os.environ["RAY_AUTH_MODE"] = "token"
        os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
    import ray

    print(f"python {sys.version.split()[0]}, ray {ray.__version__}; {_load()}", flush=True)
    started = time.perf_counter()
    if args.address is None:
        # "local": always a new cluster of its own, never one found on the machine.
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    else:
        ray.init(address=args.address, log_to_driver=False)
    print(f"ray ready in {time.perf_counter() - started:.1f}s", flush=True)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-ray-convert-") as tmp:
            root = Path(tmp)
            print(f"generating {args.items} items ...", flush=True)
            source = Path(
                make_sample_dataset(
                    root / "dm", items=args.items, categorized=False,
                    boxes_per_item=args.boxes, polygons_per_item=args.polygons,
                ).path
            )  # fmt: skip
            # Warm the page cache and every worker's imports (not timed).
            dmv2_to_coco(source, root / "warm")
            shutil.rmtree(root / "warm")
            convert_in_shards(source, root / "warm", "coco", shards=2, executor=RayShards())
            shutil.rmtree(root / "warm")
            for target in args.targets:
                variants = _variants(target)
                times: dict[str, list[float]] = {name: [] for name, _ in variants}
                serial: list[float] = []
                reference: dict[str, str] | None = None
                for repeat in range(args.repeats):
                    for name, run in variants:
                        output = root / "out"
                        begin = time.perf_counter()
                        run(source, output)
                        times[name].append(time.perf_counter() - begin)
                        if repeat == 0:
                            found = _digests(output)
                            if reference is None:
                                reference = found
                            elif found != reference:
                                print(f"ERROR: {name} output differs from the single process")
                                return 1
                        shutil.rmtree(output)
                    shards_first = _ShardsFirst()
                    begin = time.perf_counter()
                    fmt: ShardTarget = "yolo" if target == "yolo" else "coco"
                    convert_in_shards(source, root / "out", fmt, shards=2, executor=shards_first)
                    serial.append(time.perf_counter() - begin - shards_first.shard_seconds)
                    shutil.rmtree(root / "out")
                base = statistics.median(times["single process"])
                one_worker = statistics.median(times["Ray, 1 worker"])
                print(f"\nDM v2 -> {target}, {args.items} items, medians of {args.repeats}:")
                for name, _ in variants:
                    median = statistics.median(times[name])
                    print(
                        f"  {name:26s} {median:7.2f} s  {args.items / median:9.0f} items/s  "
                        f"x{base / median:4.2f} vs single process  "
                        f"x{one_worker / median:4.2f} vs 1 worker"
                    )
                driver = statistics.median(serial)
                print(
                    f"  driver's serial share (plan + merge, shards done beforehand): "
                    f"{driver:.2f} s = {driver / base:.0%} of the single process; no number of "
                    f"workers makes the run faster than x{base / driver:.2f}"
                )
                print("  outputs byte-identical to the single process: yes", flush=True)
    finally:
        ray.shutdown()
    print(f"\n{_load()} at the end (the machine is shared: other processes count)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
