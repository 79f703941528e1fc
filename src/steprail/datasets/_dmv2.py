"""DM v2, the source dataset format: pydantic models of one item's JSON and the folder layout.

A DM v2 dataset is a folder holding one JSON file per item beside its image::

    json/<stem>.json            the item's annotations
    original_files/<stem>.<ext> the image

either directly under the root ("flat") or once per split under ``train/``, ``valid/`` and
``test/`` ("categorized"). An item's JSON is ``{"images": [{"bounding_box": [...],
"polygon": [...]}]}``; every annotation has an ``id``, a ``classification`` (the class name),
optional ``attrs`` and its ``data``: ``[x, y, width, height]`` in pixels for a box,
``[[x, y], ...]`` for a polygon. An image entry may also give its ``width`` and ``height`` in
pixels; when it does not, converters read them from the image header.

Schema version 2.1 (see ``DMV2_SCHEMA_VERSION``) adds, all optional so 2.0 items stay valid:

* ``source`` on an item: ``{"file_name": "camA/0001.jpg", "image_id": 397133}``, the item's
  identity (its path relative to the images root it was imported from) and the image id its
  source gave it, so converters write them back;
* ``rings`` on a polygon: the further polygons of an object drawn in several parts;
* ``bbox`` and ``area`` on a polygon, ``area`` on a box: what the source stored, written back
  to COCO as they were instead of being recomputed;
* ``crowd`` on a box or a polygon and ``mask`` (``RleMask``) on a box: a COCO crowd region and
  its run-length-encoded mask, written back as they were;
* ``keypoints`` on a box or a polygon: ``[(x, y, visibility), ...]``, with the manifest's
  ``keypoints`` (``DMv2Keypoints``) naming them;
* ``categories`` in the ``dataset.json`` manifest: ``[{"id", "name", "supercategory"}]``, the
  class map with the source's ids (gaps and unused classes included).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Final, NotRequired, TypedDict

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    TypeAdapter,
    field_validator,
)
from pydantic_core import PydanticCustomError

__all__ = [
    "Attribute",
    "BoundingBox",
    "DMV2_SCHEMA_VERSION",
    "DMV2_SPLITS",
    "DMv2Category",
    "DMv2Image",
    "DMv2Item",
    "DMv2Keypoints",
    "DMv2Source",
    "IMAGE_EXTENSIONS",
    "Polygon",
    "RleMask",
]

#: The DM v2 schema version written by this library (items and manifest); 2.0 is read too.
DMV2_SCHEMA_VERSION: Final = "2.1"

#: The split folders of a categorized DM v2 dataset, in their canonical order.
DMV2_SPLITS: Final[tuple[str, ...]] = ("train", "valid", "test")

#: Image file extensions looked for under ``original_files/``, most common first.
IMAGE_EXTENSIONS: Final[tuple[str, ...]] = (
    ".jpg",
    ".png",
    ".jpeg",
    ".bmp",
    ".webp",
    ".tif",
    ".tiff",
    ".JPG",
    ".PNG",
    ".JPEG",
)

# Constraints expressed as core-schema types, so validation stays in pydantic-core (fast) and a
# violation carries a standard error type that the converters map to an audit reason.
_Coordinate = Annotated[float, Field(allow_inf_nan=False)]
_Extent = Annotated[float, Field(allow_inf_nan=False, gt=0)]
# At least one non-space character; a regex keeps the check inside pydantic-core.
_ClassName = Annotated[str, Field(min_length=1, pattern=r"\S")]
_Size = Annotated[int, Field(gt=0)]
_Point = tuple[_Coordinate, _Coordinate]
_Area = Annotated[float, Field(allow_inf_nan=False, ge=0)]
# (x, y, visibility) in pixels; visibility as COCO has it: 0 not labelled, 1 hidden, 2 visible.
_Keypoint = tuple[_Coordinate, _Coordinate, Annotated[int, Field(ge=0, le=2)]]


def _three_distinct(value: list[tuple[float, float]]) -> list[tuple[float, float]]:
    # Shared by the Polygon model and the lean item schema, so both reject the same polygons.
    count = len(set(value))
    if count < 3:
        raise PydanticCustomError(
            "polygon_too_few_points",
            "a polygon needs at least three distinct points, got {count}",
            {"count": count},
        )
    return value


class Attribute(BaseModel):
    """One attribute of an annotation: a name and a JSON value."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    value: JsonValue = None


class _Annotation(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str
    classification: _ClassName
    attrs: list[Attribute] = Field(default_factory=list)


class BoundingBox(_Annotation):
    """An axis-aligned box: ``data`` is ``(x, y, width, height)`` in pixels, from the top left.

    Coordinates must be finite and the width and height positive; whether the box lies inside
    the image is checked by the converters, which know the image size.
    """

    data: tuple[_Coordinate, _Coordinate, _Extent, _Extent]
    #: The area the source stored (COCO ``area``; a crowd region's is its mask's), if any.
    area: _Area | None = None
    #: The object's keypoints ``(x, y, visibility)``, in the order of the manifest's
    #: ``keypoints.names`` (YOLO pose rows, COCO ``keypoints``).
    keypoints: list[_Keypoint] = Field(default_factory=list)
    #: The region's mask when the source gave one (a COCO crowd region's RLE).
    mask: RleMask | None = None
    #: A crowd region (COCO ``iscrowd``: many objects, ignored by evaluation), not one object.
    crowd: bool = False


_Ring = Annotated[list[_Point], AfterValidator(_three_distinct)]


class RleMask(BaseModel):
    """A COCO run-length-encoded mask, kept as the source wrote it: ``counts`` (compressed text
    or a list of run lengths) and ``size`` ``[height, width]``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    counts: str | list[Annotated[int, Field(ge=0)]]
    size: tuple[_Size, _Size]


class Polygon(_Annotation):
    """A polygon: ``data`` is its vertices ``[(x, y), ...]`` in pixels, at least three distinct.

    ``rings`` (schema 2.1) holds the further polygons of an object drawn in several parts (a
    COCO ``segmentation`` with several lists: a car split by a pole), each like ``data``.
    """

    data: list[_Point]
    rings: list[_Ring] = Field(default_factory=list)
    #: The box and area the source stored (COCO ``bbox``, ``area``), written back as they were.
    bbox: tuple[_Coordinate, _Coordinate, _Extent, _Extent] | None = None
    area: _Area | None = None
    #: The object's keypoints, as on :class:`BoundingBox`.
    keypoints: list[_Keypoint] = Field(default_factory=list)
    #: A crowd region, as on :class:`BoundingBox`.
    crowd: bool = False

    @field_validator("data")
    @classmethod
    def _three_distinct_points(
        cls, value: list[tuple[float, float]]
    ) -> list[tuple[float, float]]:
        return _three_distinct(value)


class DMv2Image(BaseModel):
    """The annotations of one image, with its size in pixels when the item knows it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    width: _Size | None = None
    height: _Size | None = None
    bounding_box: list[BoundingBox] = Field(default_factory=list)
    polygon: list[Polygon] = Field(default_factory=list)


def _safe_identity(value: str | None) -> str | None:
    # An identity is written back as a path under an output folder: refuse any that leaves it.
    if value is None:
        return None
    from ._paths import UnsafePathError, relative_identity

    try:
        return relative_identity(value)
    except UnsafePathError as exc:
        raise PydanticCustomError("unsafe_path", "{error}", {"error": str(exc)}) from None


_Identity = Annotated[str | None, AfterValidator(_safe_identity)]


class DMv2Source(BaseModel):
    """Where an item came from: its path relative to the source's images root, and the image
    id the source gave it (COCO ``images[].id``), when it had one."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    file_name: _Identity = None
    image_id: int | None = None


class DMv2Category(BaseModel):
    """One class of the manifest's class map: its id, name and (COCO) super-category."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: int
    name: _ClassName
    supercategory: str | None = None


class DMv2Keypoints(BaseModel):
    """The keypoint schema of a dataset (manifest ``keypoints``): the keypoints' names in order,
    and, when the source gave them, Ultralytics' ``flip_idx`` and COCO's ``skeleton`` (pairs of
    1-based keypoint numbers)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    names: list[str]
    flip_idx: list[int] | None = None
    skeleton: list[tuple[int, int]] | None = None
    #: The classes whose objects have keypoints (COCO: the categories listing keypoint names).
    classes: list[str] = Field(default_factory=list)


class DMv2Item(BaseModel):
    """One DM v2 item: the content of ``json/<stem>.json``."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    images: list[DMv2Image] = Field(default_factory=list)
    source: DMv2Source | None = None

    def boxes(self) -> list[BoundingBox]:
        """Every box of the item, over all its image entries."""
        return [box for image in self.images for box in image.bounding_box]

    def polygons(self) -> list[Polygon]:
        """Every polygon of the item, over all its image entries."""
        return [poly for image in self.images for poly in image.polygon]

    def size(self) -> tuple[int, int] | None:
        """``(width, height)`` from the first image entry that gives both, else ``None``."""
        for image in self.images:
            if image.width is not None and image.height is not None:
                return image.width, image.height
        return None


# The lean twin of DMv2Item: the same fields with the same constraints (the same aliases and the
# same polygon check), validated into plain dicts and tuples. Converters that only read ``data``
# and ``classification`` use it on the fast path: building a model object for each of thousands
# of annotations costs more than parsing the JSON. Only what both accept may go through it; an
# item it rejects goes to the model-based salvage path, which records what was wrong.
class _LeanBox(TypedDict):
    id: str
    classification: _ClassName
    attrs: NotRequired[list[Attribute]]
    data: tuple[_Coordinate, _Coordinate, _Extent, _Extent]
    area: NotRequired[_Area | None]
    keypoints: NotRequired[list[_Keypoint]]
    mask: NotRequired[RleMask | None]
    crowd: NotRequired[bool]


class _LeanPolygon(TypedDict):
    id: str
    classification: _ClassName
    attrs: NotRequired[list[Attribute]]
    data: _Ring
    rings: NotRequired[list[_Ring]]
    bbox: NotRequired[tuple[_Coordinate, _Coordinate, _Extent, _Extent] | None]
    area: NotRequired[_Area | None]
    keypoints: NotRequired[list[_Keypoint]]
    crowd: NotRequired[bool]


class _LeanImage(TypedDict):
    width: NotRequired[_Size | None]
    height: NotRequired[_Size | None]
    bounding_box: NotRequired[list[_LeanBox]]
    polygon: NotRequired[list[_LeanPolygon]]


class _LeanSource(TypedDict):
    file_name: NotRequired[_Identity]
    image_id: NotRequired[int | None]


class _LeanItem(TypedDict):
    images: NotRequired[list[_LeanImage]]
    source: NotRequired[_LeanSource | None]


_LEAN_ITEM: Final = TypeAdapter(_LeanItem)


def _polygon_area(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Shoelace area of the polygon with vertices ``zip(xs, ys)``; kept here so COCO writing and
    the docs agree on one definition. ``math.sumprod`` adds the products in extended precision,
    in C."""
    ys_next = [*ys[1:], *ys[:1]]
    xs_next = [*xs[1:], *xs[:1]]
    return math.fabs(math.sumprod(xs, ys_next) - math.sumprod(xs_next, ys)) / 2.0
