"""Benchmark: DM v2 to YOLO and to COCO, against an I/O floor and against globox.

    python benchmarks/bench_datasets.py                 # 2 000 items (quick)
    python benchmarks/bench_datasets.py --items 20000   # the issue's size

One generated dataset (10 boxes and 2 polygons per item, 64x48 PNGs, sizes not recorded in the
JSON so every image header is read; ``--record-size`` records them) is converted in one process
beside:

* an **I/O floor**: reading and parsing the same JSON files, writing the same number of output
  files with the same number of bytes, and making the same image hard links. A converter cannot
  be faster than that; the goal is at most 2x.
* an **orjson I/O floor**: the same with the JSON parsed by orjson (several times faster than
  the standard library's parser). Shown beside the goal's ratio so readers see both; the goal
  stays judged against the standard-library floor the issue defined.
* **image header reads** (24 bytes of every image), timed alone: I/O the converters must do when
  the JSON has no sizes and the floor leaves out. Shown as a second ratio, against floor + header
  reads, for detail only; the goals are judged against the plain floor.
* **globox** converting the same annotations from COCO (our own COCO output) to YOLO. Reported per
  annotation; the goal is to be faster. globox writes label files only (no images, no image
  headers), so the comparison favours it.
* **supervision** doing the same (``DetectionDataset.from_coco(...).as_yolo(...)``, labels only).
  It is two orders of magnitude slower (it builds a mask per polygon), so it runs once, on the
  small dataset, and is reported per annotation beside our YOLO time on that same dataset.

Times are medians over ``--repeats`` interleaved runs. Peak memory is measured with tracemalloc
(Python allocations) in separate runs at two sizes, ``--items // 10`` and ``--items``; the goal
counts it flat when the larger run's peak is under twice the smaller's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import warnings

import orjson
from globox import AnnotationSet

from steprail.datasets import (
    ConversionResult,
    _coco,
    dmv2_to_coco,
    dmv2_to_yolo,
    make_sample_dataset,
)
from steprail.datasets._audit import AuditLog
from steprail.datasets._classes import resolve_class_map
from steprail.datasets._source import CheckedShapes, detect_layout, iter_checked_shapes


def _files(root: Path) -> list[Path]:
    return [Path(d, f) for d, _, fs in os.walk(root) for f in fs]


def _interleaved(
    actions: dict[str, Callable[[], object]], cleanup: Callable[[], None], repeats: int
) -> dict[str, float]:
    """Median seconds of each action; one round runs every action once, so machine noise
    (other processes, page cache) hits all of them alike."""
    times: dict[str, list[float]] = {name: [] for name in actions}
    for _ in range(repeats):
        for name, action in actions.items():
            start = time.perf_counter()
            action()
            times[name].append(time.perf_counter() - start)
            cleanup()
    return {name: statistics.median(values) for name, values in times.items()}


def _io_floor(
    source: Path,
    reference_output: Path,
    target: Path,
    loads: Callable[[bytes], object] = json.loads,
) -> None:
    """Read and parse every source JSON (with ``loads``: the standard library's, as the issue
    defined the floor, or orjson's); write as many files and bytes as the reference output
    holds (images excepted), and hard-link every source image as the converters do. Uses plain
    os-level calls, the cheapest way Python has to touch a file."""
    text_files = [p for p in _files(reference_output) if p.suffix in {".txt", ".json", ".yaml"}]
    total = sum(p.stat().st_size for p in text_files)
    per_file, extra = divmod(total, max(1, len(text_files)))
    target.mkdir(parents=True)
    (target / "links").mkdir()
    payload = b"x" * (per_file + 1)
    for entry in os.scandir(source / "json"):
        fd = os.open(entry.path, os.O_RDONLY)
        try:
            loads(os.read(fd, 1 << 20))
        finally:
            os.close(fd)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    base = str(target)
    for index in range(len(text_files)):
        size = per_file + (1 if index < extra else 0)
        fd = os.open(f"{base}/{index}.out", flags, 0o666)
        try:
            os.write(fd, payload[:size])
        finally:
            os.close(fd)
    links = str(target / "links")
    for entry in os.scandir(source / "original_files"):
        os.link(entry.path, f"{links}/{entry.name}")


def _header_reads(source: Path) -> None:
    """Read the first 24 bytes of every source image (a PNG's size is there): the I/O a
    converter cannot avoid when the JSON does not record the size, which the floor leaves out.
    Timed on its own and reported beside the floor, never folded into the goal."""
    for entry in os.scandir(source / "original_files"):
        fd = os.open(entry.path, os.O_RDONLY)
        try:
            os.read(fd, 24)
        finally:
            os.close(fd)


def _peak(convert: Callable[[Path, Path], ConversionResult], source: Path, out: Path) -> int:
    tracemalloc.start()
    try:
        convert(source, out)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        shutil.rmtree(out, ignore_errors=True)


def _supervision_once(small: Path, root: Path) -> tuple[float, float]:
    """(supervision COCO -> YOLO, ours DM v2 -> YOLO) on ``small``, one run each, in seconds."""
    import supervision as sv  # imported here: it takes a second and only this measure needs it

    coco = dmv2_to_coco(small, root / "sv_coco")
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its no-OpenCV fallback warns once per call
        dataset = sv.DetectionDataset.from_coco(
            images_directory_path=str(Path(coco.path) / "images"),
            annotations_path=str(Path(coco.config_path) / "instances.json"),
        )
        dataset.as_yolo(
            annotations_directory_path=str(root / "sv_out" / "labels"),
            data_yaml_path=str(root / "sv_out" / "data.yaml"),
        )
    t_sv = time.perf_counter() - started
    started = time.perf_counter()
    dmv2_to_yolo(small, root / "sv_ours")
    return t_sv, time.perf_counter() - started


def _checked_items(source: Path) -> list[CheckedShapes]:
    """Every checked item of the flat dataset ``source``, as the COCO writer gets them."""
    layout = detect_layout(source)
    classes = resolve_class_map(layout, first_id=1).ids
    with tempfile.TemporaryDirectory() as scratch, AuditLog(
        Path(scratch), source=str(source), target_format="coco"
    ) as audit:
        return list(iter_checked_shapes(layout, audit, classes))


def _coco_breakdown(source: Path, reference: Path, out: Path, repeats: int) -> None:
    """Where DM v2 -> COCO spends its time: the conversion timed whole, without formatting the
    annotations (each item written with none), with the items already read and checked (those
    of a first run replayed), and with neither; beside the floor. Diagnostic only: it swaps two
    of the writer's private functions for the timed runs and puts them back."""
    real_write, real_iter = _coco._write_item, iter_checked_shapes  # what _coco imported
    checked = _checked_items(source)

    def no_format(
        writer: _coco._InstancesWriter, item: CheckedShapes, image_id: int,
        ann_ids: object, class_ids: object, file_name: str,
    ) -> int:  # fmt: skip
        writer.item(image_id, file_name, item.width, item.height, b"")
        return len(item.boxes) + len(item.polygons)

    def replay(layout: object, audit: AuditLog, classes: object) -> Iterator[CheckedShapes]:
        for item in checked:
            audit.items_total += 1
            yield item

    def run(write: object, iterate: object) -> Callable[[], object]:
        def convert() -> object:
            setattr(_coco, "_write_item", write)
            setattr(_coco, "iter_checked_shapes", iterate)
            try:
                return dmv2_to_coco(source, out)
            finally:
                setattr(_coco, "_write_item", real_write)
                setattr(_coco, "iter_checked_shapes", real_iter)

        return convert

    medians = _interleaved(
        {
            "whole conversion": run(real_write, real_iter),
            "  without formatting": run(no_format, real_iter),
            "  items pre-checked": run(real_write, replay),
            "  neither": run(no_format, replay),
            "I/O floor (COCO)": lambda: _io_floor(source, reference, out),
            "orjson I/O floor": lambda: _io_floor(source, reference, out, orjson.loads),
        },
        lambda: shutil.rmtree(out, ignore_errors=True),
        repeats,
    )
    floor = medians["I/O floor (COCO)"]
    whole = medians["whole conversion"]
    print(f"\nDM v2 -> COCO breakdown, median of {repeats} interleaved runs")
    for label, seconds in medians.items():
        print(f"{label:24}{seconds:10.3f}{seconds / floor:10.2f} x I/O floor")
    print(
        f"  formatting the annotations: ~{whole - medians['  without formatting']:.3f} s; "
        f"reading, validating and checking the items: ~{whole - medians['  items pre-checked']:.3f} s"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--items", type=int, default=2000, help="dataset size (default 2000)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per measure")
    parser.add_argument("--boxes", type=int, default=10)
    parser.add_argument("--polygons", type=int, default=2)
    parser.add_argument(
        "--record-size",
        action="store_true",
        help="write each image's size into its JSON, so converters skip the image headers",
    )
    parser.add_argument(
        "--workdir",
        default=None,
        help="where to write (default: the system temp folder); /dev/shm takes the disk out",
    )
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="also time DM v2 -> COCO without formatting and with items pre-checked",
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="steprail-bench-", dir=args.workdir) as tmp:
        root = Path(tmp)
        small_items = max(1, args.items // 10)
        print(f"generating {args.items} + {small_items} items ...", flush=True)
        source = Path(
            make_sample_dataset(
                root / "dm",
                items=args.items,
                categorized=False,
                boxes_per_item=args.boxes,
                polygons_per_item=args.polygons,
                record_size=args.record_size,
            ).path
        )
        small = Path(
            make_sample_dataset(
                root / "dm_small",
                items=small_items,
                categorized=False,
                boxes_per_item=args.boxes,
                polygons_per_item=args.polygons,
                record_size=args.record_size,
            ).path
        )
        annotations = args.items * (args.boxes + args.polygons)

        # Reference outputs (also warm the page cache and first-use caches).
        yolo_ref = dmv2_to_yolo(source, root / "yolo_ref")
        coco_ref = dmv2_to_coco(source, root / "coco_ref")
        assert yolo_ref.audit.annotations_written == annotations
        coco_json = Path(coco_ref.config_path) / "instances.json"

        out = root / "out"
        label_to_id = {name: index for index, name in enumerate(coco_ref.classes)}

        def globox_run() -> None:
            AnnotationSet.from_coco(coco_json).save_yolo_v5(out, label_to_id=label_to_id)

        medians = _interleaved(
            {
                "yolo": lambda: dmv2_to_yolo(source, out),
                "floor_yolo": lambda: _io_floor(source, Path(yolo_ref.path), out),
                "coco": lambda: dmv2_to_coco(source, out),
                "floor_coco": lambda: _io_floor(source, Path(coco_ref.path), out),
                "floor_yolo_orjson": lambda: _io_floor(
                    source, Path(yolo_ref.path), out, orjson.loads
                ),
                "floor_coco_orjson": lambda: _io_floor(
                    source, Path(coco_ref.path), out, orjson.loads
                ),
                "globox": globox_run,
                "headers": lambda: _header_reads(source),
            },
            lambda: shutil.rmtree(out, ignore_errors=True),
            args.repeats,
        )
        t_yolo, t_floor_yolo = medians["yolo"], medians["floor_yolo"]
        t_coco, t_floor_coco = medians["coco"], medians["floor_coco"]
        t_globox = medians["globox"]
        t_fast_yolo, t_fast_coco = medians["floor_yolo_orjson"], medians["floor_coco_orjson"]
        t_headers = 0.0 if args.record_size else medians["headers"]

        t_sv, t_ours_small = _supervision_once(small, root)
        if args.breakdown:
            _coco_breakdown(source, Path(coco_ref.path), out, args.repeats)

        peaks = {}
        for name, convert in (("yolo", dmv2_to_yolo), ("coco", dmv2_to_coco)):
            peaks[name] = (
                _peak(convert, small, root / "peak_small"),
                _peak(convert, source, root / "peak_large"),
            )

    per_ann = 1e6 / annotations
    where = args.workdir or tempfile.gettempdir()
    print(
        f"\n{args.items} items, {annotations} annotations, in {where}, "
        f"image sizes {'in the JSON' if args.record_size else 'from the image headers'}, "
        f"median of {args.repeats} interleaved runs (other processes may share the machine: "
        "the ratios, measured in one run, are what to compare)"
    )
    print(f"{'':24}{'seconds':>10}{'us/annotation':>16}{'ratio':>10}")
    rows = [
        ("DM v2 -> YOLO", t_yolo, t_yolo / t_floor_yolo, "x I/O floor"),
        ("  I/O floor (YOLO)", t_floor_yolo, 1.0, ""),
        ("DM v2 -> YOLO", t_yolo, t_yolo / t_fast_yolo, "x orjson I/O floor"),
        ("  orjson I/O floor", t_fast_yolo, 1.0, ""),
        ("DM v2 -> COCO", t_coco, t_coco / t_floor_coco, "x I/O floor"),
        ("  I/O floor (COCO)", t_floor_coco, 1.0, ""),
        ("DM v2 -> COCO", t_coco, t_coco / t_fast_coco, "x orjson I/O floor"),
        ("  orjson I/O floor", t_fast_coco, 1.0, ""),
        ("globox COCO -> YOLO", t_globox, t_globox / t_yolo, "x ours (YOLO)"),
    ]
    if not args.record_size:
        # Detail only: the goals below stay against the plain floor.
        rows += [
            ("image header reads", t_headers, 1.0, ""),
            ("DM v2 -> YOLO", t_yolo, t_yolo / (t_floor_yolo + t_headers), "x (floor + headers)"),
            ("DM v2 -> COCO", t_coco, t_coco / (t_floor_coco + t_headers), "x (floor + headers)"),
        ]
    for label, seconds, ratio, unit in rows:
        print(f"{label:24}{seconds:10.3f}{seconds * per_ann:16.2f}{ratio:10.2f} {unit}")
    small_ann = 1e6 / (small_items * (args.boxes + args.polygons))
    print(
        f"{'supervision COCO -> YOLO':24}{t_sv:10.3f}{t_sv * small_ann:16.2f}"
        f"{t_sv / t_ours_small:10.2f} x ours (YOLO), {small_items} items, one run"
    )
    print("\npeak Python memory (tracemalloc)")
    for name, (p_small, p_large) in peaks.items():
        print(
            f"  DM v2 -> {name.upper():5} {small_items:>6} items: {p_small / 1024:8.1f} KiB   "
            f"{args.items:>6} items: {p_large / 1024:8.1f} KiB   ratio {p_large / p_small:.2f}"
        )
    goals = [
        ("YOLO <= 2x I/O floor", t_yolo <= 2 * t_floor_yolo),
        ("COCO <= 2x I/O floor", t_coco <= 2 * t_floor_coco),
        ("faster per annotation than globox", t_yolo < t_globox),
        ("peak memory flat", all(large < 2 * s for s, large in peaks.values())),
    ]
    print("\n  goals judged against the standard-library I/O floor the issue defined")
    for goal, met in goals:
        print(f"  [{'met' if met else 'MISSED'}] {goal}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
