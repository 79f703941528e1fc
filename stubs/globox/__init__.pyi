# Minimal stubs: only what steprail's benchmark uses.
import os
from collections.abc import Mapping

class AnnotationSet:
    @staticmethod
    def from_coco(file_path: str | os.PathLike[str], *, verbose: bool = False) -> AnnotationSet: ...
    def save_yolo_v5(
        self,
        save_dir: str | os.PathLike[str],
        *,
        label_to_id: Mapping[str, int | str] | None = None,
        verbose: bool = False,
    ) -> None: ...
    def __len__(self) -> int: ...
