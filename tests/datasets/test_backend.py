"""The local backend: catalogue, import, download, model records, and failure atomicity."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from steprail.datasets import (
    Backend,
    BackendError,
    DatasetInputError,
    DatasetNotFoundError,
    LocalBackend,
    ModelNotFoundError,
    NoUsableItemsError,
    OutputExistsError,
    default_backend_root,
    dmv2_to_coco,
    dmv2_to_yolo,
    make_sample_dataset,
)

from ._helpers import read_dmv2, tree


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[LocalBackend]:
    with LocalBackend(tmp_path / "backend") as b:
        yield b


def _rows(backend: LocalBackend, table: str) -> int:
    with sqlite3.connect(backend.root / "catalog.sqlite3") as db:
        count = db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # noqa: S608
    assert isinstance(count, int)
    return count


def test_is_a_backend_and_uses_wal(backend: LocalBackend) -> None:
    assert isinstance(backend, Backend)
    with sqlite3.connect(backend.root / "catalog.sqlite3") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_default_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("STEPRAIL_HOME", str(tmp_path / "home"))
    assert default_backend_root() == tmp_path / "home" / "backend"
    monkeypatch.delenv("STEPRAIL_HOME")
    monkeypatch.chdir(tmp_path)
    assert default_backend_root() == tmp_path / ".steprail" / "backend"


def test_import_list_get_download(backend: LocalBackend, tmp_path: Path) -> None:
    sample = make_sample_dataset(tmp_path / "sample", items=10, seed=3)
    imported = backend.import_dataset(sample.path, name="demo")
    record = imported.dataset
    assert record.name == "demo" and record.count == 10 and record.is_categorized
    assert record.splits == {"train": 7, "valid": 2, "test": 1}
    assert record.classes == ["car", "person", "tree"]
    assert imported.audit.items_skipped == 0
    assert backend.list_datasets() == [record]
    assert backend.get_dataset(record.id) == record
    assert backend.get_dataset("demo") == record
    assert backend.get_dataset(str(record.id)) == record

    download = backend.download_dataset("demo", tmp_path / "dl")
    assert download.count == 10 and download.is_categorized
    assert download.splits == ["train", "valid", "test"]
    assert read_dmv2(tmp_path / "dl") == read_dmv2(tmp_path / "sample")
    assert json.loads((tmp_path / "dl" / "dataset.json").read_text())["classes"] == record.classes

    part = backend.download_dataset(record.id, tmp_path / "part", splits=["valid"])
    assert part.count == 2 and part.splits == ["valid"]
    assert not (tmp_path / "part" / "train").exists()


def test_lookup_errors_name_the_reference(backend: LocalBackend, tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="'nope'"):
        backend.get_dataset("nope")
    with pytest.raises(DatasetNotFoundError, match="42"):
        backend.download_dataset(42, tmp_path / "x")
    assert not (tmp_path / "x").exists()
    with pytest.raises(ModelNotFoundError, match="7"):
        backend.get_model(7)


def test_download_refuses_bad_splits_and_busy_folders(backend: LocalBackend, tmp_path: Path) -> None:
    sample = make_sample_dataset(tmp_path / "sample", items=4)
    backend.import_dataset(sample.path, name="d")
    with pytest.raises(BackendError, match="no split"):
        backend.download_dataset("d", tmp_path / "x", splits=["nope"])
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "f").write_text("x")
    with pytest.raises(OutputExistsError):
        backend.download_dataset("d", tmp_path / "busy")
    assert [p.name for p in (tmp_path / "busy").iterdir()] == ["f"]


def test_import_yolo_and_coco(backend: LocalBackend, tmp_path: Path) -> None:
    sample = make_sample_dataset(tmp_path / "sample", items=6, seed=5)
    dmv2_to_yolo(Path(sample.path), tmp_path / "yolo")
    dmv2_to_coco(Path(sample.path), tmp_path / "coco")
    from_yolo = backend.import_dataset(tmp_path / "yolo", name="y", source_format="yolo").dataset
    from_coco = backend.import_dataset(tmp_path / "coco", name="c", source_format="coco").dataset
    assert from_yolo.count == from_coco.count == 6
    assert from_yolo.splits == from_coco.splits == {"train": 4, "valid": 1, "test": 1}
    assert from_yolo.classes == from_coco.classes == sample.classes


def test_import_refuses_duplicate_names_and_bad_input(backend: LocalBackend, tmp_path: Path) -> None:
    sample = make_sample_dataset(tmp_path / "sample", items=3)
    backend.import_dataset(sample.path, name="d")
    before = tree(backend.root / "datasets")
    with pytest.raises(BackendError, match="'d' already exists"):
        backend.import_dataset(sample.path, name="d")
    with pytest.raises(DatasetInputError):
        backend.import_dataset(tmp_path / "missing", name="m")
    bad = tmp_path / "bad" / "json"
    bad.mkdir(parents=True)
    (bad / "x.json").write_text("{")
    with pytest.raises(NoUsableItemsError):
        backend.import_dataset(tmp_path / "bad", name="b")
    assert _rows(backend, "datasets") == 1
    assert tree(backend.root / "datasets") == before
    assert list((backend.root / "staging").iterdir()) == []


def test_failed_import_leaves_no_record_and_no_file(
    backend: LocalBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sample = make_sample_dataset(tmp_path / "sample", items=5)
    real_copy = shutil.copyfile
    calls = 0

    def failing_copy(src: Path, dst: Path) -> object:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise OSError("disk full")
        return real_copy(src, dst)

    # _local calls shutil.copyfile through the module, so patching it there reaches it.
    monkeypatch.setattr(shutil, "copyfile", failing_copy)
    with pytest.raises(OSError, match="disk full"):
        backend.import_dataset(sample.path, name="d")
    monkeypatch.undo()
    assert _rows(backend, "datasets") == 0 and _rows(backend, "items") == 0
    assert list((backend.root / "datasets").iterdir()) == []
    assert list((backend.root / "staging").iterdir()) == []


def test_failure_after_the_rename_is_rolled_back_too(
    backend: LocalBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sample = make_sample_dataset(tmp_path / "sample", items=3)

    def broken_get(self: LocalBackend, ref: int | str) -> object:
        raise RuntimeError("crash inside the transaction")

    monkeypatch.setattr(LocalBackend, "get_dataset", broken_get)
    with pytest.raises(RuntimeError, match="crash inside"):
        backend.import_dataset(sample.path, name="d")
    monkeypatch.undo()
    assert _rows(backend, "datasets") == 0 and _rows(backend, "items") == 0
    assert list((backend.root / "datasets").iterdir()) == []
    # The id was not consumed by a half record: the next import works and is listed alone.
    assert [d.name for d in [backend.import_dataset(sample.path, name="d").dataset]] == ["d"]
    assert len(backend.list_datasets()) == 1


def test_orphans_are_swept_on_open(tmp_path: Path) -> None:
    root = tmp_path / "backend"
    LocalBackend(root).close()
    (root / "datasets" / "99").mkdir()
    (root / "datasets" / "99" / "x.json").write_text("{}")
    (root / "models" / "5").mkdir()
    with LocalBackend(root):
        pass
    assert list((root / "datasets").iterdir()) == []
    assert list((root / "models").iterdir()) == []


def test_models(backend: LocalBackend, tmp_path: Path) -> None:
    weights = tmp_path / "model.pt"
    weights.write_bytes(b"\x00weights" * 100)
    record = backend.create_model(weights, {"name": "trained", "epochs": 3, "map": 0.5})
    assert record.id == 1 and record.name == "trained" and record["id"] == 1
    assert record.size == 800 and record.metadata["epochs"] == 3
    assert Path(record.file).read_bytes() == weights.read_bytes()
    assert backend.get_model(1) == record
    assert backend.list_models() == [record]
    with pytest.raises(KeyError):
        record["nope"]


def test_model_errors_leave_nothing(
    backend: LocalBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        backend.create_model(tmp_path / "missing.pt")
    weights = tmp_path / "model.pt"
    weights.write_bytes(b"w")
    with pytest.raises(BackendError, match="not JSON"):
        backend.create_model(weights, {"bad": float("nan")})

    def broken_get(self: LocalBackend, model_id: int) -> object:
        raise RuntimeError("lost")

    monkeypatch.setattr(LocalBackend, "get_model", broken_get)
    with pytest.raises(RuntimeError, match="lost"):
        backend.create_model(weights)
    monkeypatch.undo()
    # get_model runs after the commit: the record and its file are both there and consistent.
    assert [m.id for m in backend.list_models()] == [1]
    assert Path(backend.get_model(1).file).is_file()
    assert list((backend.root / "staging").iterdir()) == []


def test_a_lazy_backend_creates_nothing_until_first_used(tmp_path: Path) -> None:
    lazy = LocalBackend(tmp_path / "lazy", lazy=True)
    assert isinstance(lazy, Backend)
    assert not lazy.opened
    lazy.close()  # closing an unused lazy backend is fine, and still creates nothing
    assert list(tmp_path.iterdir()) == []
    lazy = LocalBackend(tmp_path / "lazy", lazy=True)
    assert lazy.list_models() == []
    assert lazy.opened and (tmp_path / "lazy" / "catalog.sqlite3").is_file()
    lazy.close()


def test_a_lazy_backend_opens_for_an_upload_too(tmp_path: Path) -> None:
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"w")
    with LocalBackend(tmp_path / "lazy", lazy=True) as lazy:
        assert lazy.create_model(weights).id == 1  # staging/ must exist before the copy
        assert Path(lazy.get_model(1).file).read_bytes() == b"w"


def test_get_data_collection_is_the_record_as_plain_json(backend: LocalBackend, tmp_path: Path) -> None:
    sample = make_sample_dataset(tmp_path / "sample", items=6, seed=4)
    record = backend.import_dataset(sample.path, name="demo").dataset
    collection = backend.get_data_collection(record.id)
    assert collection == {
        "id": record.id,
        "name": "demo",
        "format": "dm_v2",
        "is_categorized": record.is_categorized,
        "count": 6,
        "splits": record.splits,
        "classes": record.classes,
        "created_at": record.created_at.isoformat().replace("+00:00", "Z"),
    }
    json.dumps(collection)  # plain values only
    assert len(collection) == 8  # keys, not items: the page's len() counts these
    with pytest.raises(DatasetNotFoundError, match="dataset 42 not found"):
        backend.get_data_collection(42)
    with pytest.raises(TypeError, match=r"takes a dataset id \(an int\), got None"):
        backend.get_data_collection(None)  # what params.get("dataset") gives when unset
    with pytest.raises(TypeError, match="got 'demo'"):
        backend.get_data_collection("demo")  # type: ignore[arg-type]  # names are get_dataset's


def test_create_model_takes_the_single_mapping_form(backend: LocalBackend, tmp_path: Path) -> None:
    weights = tmp_path / "model.pt"
    weights.write_bytes(b"abc")
    record = backend.create_model({"file": str(weights), "name": "trained-model", "epochs": 2})
    assert record["id"] == 1 and record.name == "trained-model"
    assert record.metadata == {"name": "trained-model", "epochs": 2}  # everything but 'file'
    assert Path(record.file).read_bytes() == b"abc"
    by_path = backend.create_model({"file": weights})  # a Path works too; name from the stem
    assert by_path.name == "model" and by_path.metadata == {}


@pytest.mark.parametrize(
    ("spec", "error", "message"),
    [
        ({"name": "m"}, ValueError, r"needs 'file', the model file's path \(got no such key; keys: \['name'\]\)"),
        ({"file": None, "name": "m"}, ValueError, r"needs 'file'.*\(got None"),
        ({"file": 3}, TypeError, "'file' must be a path, got int"),
        ({"file": "MISSING"}, FileNotFoundError, "does not exist"),
        ({"file": "WEIGHTS", "bad": float("nan")}, BackendError, "not JSON"),
        ({"file": "WEIGHTS", "bad": object()}, BackendError, "not JSON"),
    ],
)
def test_bad_model_mappings_are_refused_and_leave_nothing(
    backend: LocalBackend, tmp_path: Path, spec: dict[str, object], error: type[Exception], message: str
) -> None:
    weights = tmp_path / "weights.pt"
    weights.write_bytes(b"w")
    paths = {"WEIGHTS": str(weights), "MISSING": str(tmp_path / "missing.pt")}
    spec = {k: paths.get(v, v) if isinstance(v, str) else v for k, v in spec.items()}
    before = tree(backend.root)
    with pytest.raises(error, match=message):
        backend.create_model(spec)
    assert tree(backend.root) == before
    assert _rows(backend, "models") == 0


def test_the_mapping_form_takes_no_other_arguments(backend: LocalBackend, tmp_path: Path) -> None:
    weights = tmp_path / "weights.pt"
    weights.write_bytes(b"w")
    with pytest.raises(TypeError, match="no separate metadata or name"):
        backend.create_model({"file": str(weights)}, name="x")  # type: ignore[call-overload]  # the error path under test
    assert _rows(backend, "models") == 0


def test_delete_model_removes_the_record_and_its_file_and_is_idempotent(
    backend: LocalBackend, tmp_path: Path
) -> None:
    weights = tmp_path / "weights.pt"
    weights.write_bytes(b"w")
    kept = backend.create_model(weights, name="kept")
    before = tree(backend.root)
    doomed = backend.create_model(weights, name="doomed")
    assert backend.delete_model(doomed.id) is True
    assert tree(backend.root) == before
    assert [m.id for m in backend.list_models()] == [kept.id]
    with pytest.raises(ModelNotFoundError):
        backend.get_model(doomed.id)
    assert backend.delete_model(doomed.id) is False  # again: nothing to do, nothing changes
    assert backend.delete_model(999) is False
    assert tree(backend.root) == before
    with pytest.raises(TypeError, match="takes a model id"):
        backend.delete_model("1")  # type: ignore[arg-type]  # the error path under test
    # A new model never reuses the deleted id, so a stale undo cannot delete it.
    assert backend.create_model(weights).id == doomed.id + 1


def test_delete_model_keeps_the_file_when_the_transaction_fails(backend: LocalBackend, tmp_path: Path) -> None:
    weights = tmp_path / "weights.pt"
    weights.write_bytes(b"w")
    record = backend.create_model(weights)
    before = tree(backend.root)
    with sqlite3.connect(backend.root / "catalog.sqlite3", timeout=0) as other:
        other.execute("BEGIN IMMEDIATE")  # hold the write lock
        backend._db.execute("PRAGMA busy_timeout = 50")
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            backend.delete_model(record.id)
        other.rollback()
    assert tree(backend.root) == before
    assert backend.get_model(record.id) == record
