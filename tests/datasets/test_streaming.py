"""Conversion streams item by item: peak memory does not grow with the dataset's size."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from steprail.datasets import ConversionResult, dmv2_to_coco, dmv2_to_yolo, make_sample_dataset


def _peak(convert: Callable[[Path, Path], ConversionResult], source: Path, out: Path) -> int:
    tracemalloc.start()
    try:
        convert(source, out)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("convert", [dmv2_to_yolo, dmv2_to_coco], ids=["yolo", "coco"])
def test_peak_memory_is_flat_in_the_number_of_items(
    tmp_path: Path, convert: Callable[[Path, Path], ConversionResult]
) -> None:
    small = make_sample_dataset(
        tmp_path / "small", items=30, boxes_per_item=5, polygons_per_item=2, image_size=(16, 16)
    )
    large = make_sample_dataset(
        tmp_path / "large", items=600, boxes_per_item=5, polygons_per_item=2, image_size=(16, 16)
    )
    convert(Path(small.path), tmp_path / "warm")  # first-use caches (pydantic, Pillow) are not growth
    peak_small = _peak(convert, Path(small.path), tmp_path / "out_small")
    peak_large = _peak(convert, Path(large.path), tmp_path / "out_large")
    # 20x the items; a converter that kept items, rows or names would grow by well over 100 KB.
    assert peak_large < peak_small * 1.25 + 64 * 1024, (peak_small, peak_large)
