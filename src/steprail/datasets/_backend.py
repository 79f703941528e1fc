"""The backend interface the dataset steps and the training action talk to.

:class:`Backend` is a :class:`typing.Protocol`: any object with these methods is a backend, so a
remote service can be plugged in later without inheriting from anything here. The embedded
default is :class:`~steprail.datasets.LocalBackend`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, overload, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, JsonValue

__all__ = [
    "Backend",
    "BackendError",
    "DatasetNotFoundError",
    "DatasetRecord",
    "DownloadResult",
    "ModelNotFoundError",
    "ModelRecord",
]


class BackendError(RuntimeError):
    """A backend operation failed; nothing was changed."""


class DatasetNotFoundError(BackendError, LookupError):
    """No dataset has the id or name asked for."""


class ModelNotFoundError(BackendError, LookupError):
    """No model record has the id asked for."""


class DatasetRecord(BaseModel):
    """A dataset in the catalogue. Its items are stored in DM v2."""

    model_config = ConfigDict(frozen=True)

    id: int
    name: str
    format: str = "dm_v2"
    is_categorized: bool
    count: int
    splits: dict[str, int] = Field(default_factory=dict)
    classes: list[str] = Field(default_factory=list)
    created_at: datetime


class DownloadResult(BaseModel):
    """Where a dataset was downloaded to, and what is there."""

    model_config = ConfigDict(frozen=True)

    path: str
    format: str
    is_categorized: bool
    count: int
    splits: list[str]


class ModelRecord(BaseModel):
    """A model file kept by the backend, with the metadata it was created with.

    ``record["id"]`` works as well as ``record.id``, for code written against dict records.
    """

    model_config = ConfigDict(frozen=True)

    id: int
    name: str
    file: str
    size: int
    sha256: str
    metadata: dict[str, JsonValue] = Field(default_factory=dict)
    created_at: datetime

    def __getitem__(self, key: str) -> object:
        """The field ``key``; raises ``KeyError`` for a name that is not a field."""
        if key not in type(self).model_fields:
            raise KeyError(key)
        value: object = getattr(self, key)
        return value


@runtime_checkable
class Backend(Protocol):
    """What the dataset steps and the training action need from a backend."""

    def list_datasets(self) -> list[DatasetRecord]:
        """Every dataset, oldest first."""
        ...

    def get_dataset(self, ref: int | str) -> DatasetRecord:
        """The dataset with this id (an ``int``) or name (a ``str``).

        Raises:
            DatasetNotFoundError: naming ``ref`` when there is none.
        """
        ...

    def download_dataset(
        self,
        ref: int | str,
        destination: str | os.PathLike[str],
        *,
        splits: Sequence[str] | None = None,
    ) -> DownloadResult:
        """Write the dataset's items as DM v2 into ``destination`` (absent or empty).

        ``splits`` limits a categorized dataset to those splits.
        """
        ...

    def get_data_collection(self, dataset_id: int | None) -> dict[str, Any]:
        """The dataset ``dataset_id`` described as a plain, JSON-ready dict.

        Its keys are the :class:`DatasetRecord` fields: ``id``, ``name``, ``format``,
        ``is_categorized``, ``count`` (the number of items), ``splits`` (items per split),
        ``classes`` and ``created_at`` (ISO 8601 text). Nothing is downloaded, so there is no
        ``path``; ``len()`` of the dict counts these keys, not items: read ``["count"]`` for that.

        ``None`` is accepted by the signature so that ``params.get("dataset")`` can be passed
        as it is (the page's example does); it is refused at run time with a clear error.

        Raises:
            TypeError: ``dataset_id`` is not an ``int`` (``None`` included).
            DatasetNotFoundError: naming ``dataset_id`` when there is none.
        """
        ...

    @overload
    def create_model(self, file: Mapping[str, object], /) -> ModelRecord: ...

    @overload
    def create_model(
        self,
        file: str | os.PathLike[str],
        metadata: Mapping[str, JsonValue] | None = None,
        *,
        name: str | None = None,
    ) -> ModelRecord: ...

    def create_model(
        self,
        file: Mapping[str, object] | str | os.PathLike[str],
        metadata: Mapping[str, JsonValue] | None = None,
        *,
        name: str | None = None,
    ) -> ModelRecord:
        """Store the model file with its metadata and return the new record (with its ``id``).

        Two forms: ``create_model(path, metadata, name=...)``, and the single mapping
        ``create_model({"file": path, "name": ..., **metadata})``, which is the first form with
        ``file`` taken out of the mapping and the rest used as the metadata (the record's name
        is ``name`` from the metadata, else the file's stem).

        Raises:
            ValueError: the mapping has no ``file`` (or it is ``None``).
            TypeError: ``file`` is not a path, or the mapping form got more arguments.
            FileNotFoundError: the file does not exist.
            BackendError: the metadata is not JSON.
        """
        ...

    def get_model(self, model_id: int) -> ModelRecord:
        """The model record with this id.

        Raises:
            ModelNotFoundError: naming ``model_id`` when there is none.
        """
        ...

    def delete_model(self, model_id: int) -> bool:
        """Delete the model record ``model_id`` and its stored file, in one change.

        Idempotent, so a rollback can call it safely: an unknown id changes nothing.

        Returns:
            ``True`` when a record was deleted, ``False`` when there was none.
        """
        ...
