"""Class ids: which id each class name gets in an output, and the rules that keep them.

The ids of a conversion come from, in order: an explicit class map given by the caller (to match
a pretrained model; annotations of any other class are skipped and audited); else the source's
own ids (the DM v2 manifest's ``categories``, written by the importers from the YOLO ``names``
or the COCO ``categories``), with only names the source did not number getting new ids above the
largest; else the sorted class names numbered from the target's first id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ._dmv2 import DMv2Category
from ._source import DMv2Layout, read_manifest, scan_classes

__all__ = [
    "ClassMap",
    "resolve_class_map",
]


@dataclass(frozen=True, slots=True)
class ClassMap:
    """Class name to id for one conversion, and every category (unused ones included)."""

    ids: dict[str, int]
    categories: list[DMv2Category]

    def contiguous(self) -> bool:
        """Whether the ids are exactly ``0..n-1`` (what YOLO needs)."""
        return sorted(self.ids.values()) == list(range(len(self.ids)))


def _checked_explicit(class_map: Mapping[str, int]) -> dict[str, int]:
    ids = dict(class_map)
    if not ids:
        raise ValueError("class_map is empty")
    seen: dict[int, str] = {}
    for name, class_id in ids.items():
        if isinstance(class_id, bool) or class_id < 0:
            raise ValueError(f"class_map[{name!r}] = {class_id!r} is not an id >= 0")
        if class_id in seen:
            raise ValueError(f"class_map gives id {class_id} to both {seen[class_id]!r} and {name!r}")
        seen[class_id] = name
    return ids


def resolve_class_map(
    layout: DMv2Layout, *, first_id: int, class_map: Mapping[str, int] | None = None
) -> ClassMap:
    """The class map of a conversion of ``layout`` (see the module docs); ``first_id`` is where
    numbering starts when nothing else decides (0 for YOLO, 1 for COCO)."""
    manifest = read_manifest(layout.root)
    known = {c.name: c for c in manifest.categories} if manifest is not None else {}
    if class_map is not None:
        ids = _checked_explicit(class_map)
        categories = [
            DMv2Category(
                id=class_id,
                name=name,
                supercategory=known[name].supercategory if name in known else None,
            )
            for name, class_id in ids.items()
        ]
        return ClassMap(ids, sorted(categories, key=lambda c: c.id))
    names: Sequence[str]
    if manifest is not None and (manifest.classes or manifest.categories):
        names = sorted(set(manifest.classes) | set(known))
    else:
        names = scan_classes(layout)
    ids = {name: known[name].id for name in names if name in known}
    next_id = max(ids.values(), default=first_id - 1) + 1
    categories = [known[name] for name in names if name in known]
    for name in names:
        if name not in ids:
            ids[name] = next_id
            categories.append(DMv2Category(id=next_id, name=name))
            next_id += 1
    return ClassMap(ids, sorted(categories, key=lambda c: c.id))
