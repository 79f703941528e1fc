# Minimal stubs: only what steprail's benchmark and tests use.
import os
from collections.abc import Iterator, Mapping

class BoundingBox:
    @property
    def label(self) -> str: ...
    @property
    def ltrb(self) -> tuple[float, float, float, float]: ...

class Annotation:
    @property
    def image_id(self) -> str: ...
    @property
    def boxes(self) -> list[BoundingBox]: ...

class AnnotationSet:
    @staticmethod
    def from_coco(file_path: str | os.PathLike[str], *, verbose: bool = False) -> AnnotationSet: ...
    @staticmethod
    def from_pascal_voc(
        folder: str | os.PathLike[str], *, recursive: bool = False, verbose: bool = False
    ) -> AnnotationSet: ...
    @staticmethod
    def from_yolo_v5(
        folder: str | os.PathLike[str],
        *,
        image_folder: str | os.PathLike[str],
        image_extension: str = ".jpg",
        recursive: bool = False,
        verbose: bool = False,
    ) -> AnnotationSet: ...
    def save_yolo_v5(
        self,
        save_dir: str | os.PathLike[str],
        *,
        label_to_id: Mapping[str, int | str] | None = None,
        verbose: bool = False,
    ) -> None: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[Annotation]: ...
