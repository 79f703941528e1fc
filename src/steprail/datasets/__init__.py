"""Datasets: a backend (embedded local default), the DM v2 format, YOLO, COCO and Pascal VOC
converters, sharded conversion (in process or on Ray: :func:`convert_in_shards`), and the
built-in dataset steps :class:`ExportDatasetStep` and :class:`ConvertDatasetStep`.

See ``docs/datasets.md`` for the formats, the layouts and the audit report.
"""

from .._extras import require_extra

require_extra("datasets", "steprail.datasets")  # its packages come with steprail[datasets]

from ._audit import (  # noqa: E402  (after the guard, which names the missing extra)
    AUDIT_FILE_NAME,
    AuditEntry,
    AuditLog,
    AuditReason,
    AuditSummary,
    read_audit,
)
from ._backend import (
    Backend,
    BackendError,
    DatasetNotFoundError,
    DatasetRecord,
    DownloadResult,
    ModelNotFoundError,
    ModelRecord,
)
from ._coco import coco_to_dmv2, dmv2_to_coco
from ._convert import ConversionResult, DatasetFormat, OutputExistsError
from ._dmv2 import (
    DMV2_SCHEMA_VERSION,
    DMV2_SPLITS,
    IMAGE_EXTENSIONS,
    Attribute,
    BoundingBox,
    DMv2Category,
    DMv2Image,
    DMv2Item,
    DMv2Keypoints,
    DMv2Source,
    Polygon,
    RleMask,
)
from ._local import ImportResult, LocalBackend, default_backend_root
from ._sample import SAMPLE_CLASSES, SampleDataset, make_sample_dataset
from ._source import (
    MANIFEST_FILE_NAME,
    DatasetInputError,
    DMv2Manifest,
    NoUsableItemsError,
)
from ._steps import ConvertDatasetStep, DatasetContext, ExportDatasetStep
from ._shards import (
    InProcessShards,
    RayShards,
    ShardExecutor,
    ShardFailedError,
    ShardRange,
    ShardReport,
    ShardRun,
    ShardSpec,
    ShardTarget,
    ShardTask,
    convert_in_shards,
    convert_shard,
)
from ._voc import VOC_ATTRIBUTES, dmv2_to_voc, voc_to_dmv2
from ._yolo import (
    YOLO_CONFIG_NAME,
    YoloConfig,
    dmv2_to_yolo,
    read_yolo_config,
    yolo_to_dmv2,
)

__all__ = [
    "AUDIT_FILE_NAME",
    "Attribute",
    "AuditEntry",
    "AuditLog",
    "AuditReason",
    "AuditSummary",
    "Backend",
    "BackendError",
    "BoundingBox",
    "ConversionResult",
    "ConvertDatasetStep",
    "DMV2_SCHEMA_VERSION",
    "DMV2_SPLITS",
    "DMv2Category",
    "DMv2Image",
    "DMv2Item",
    "DMv2Keypoints",
    "DMv2Manifest",
    "DMv2Source",
    "DatasetContext",
    "DatasetFormat",
    "DatasetInputError",
    "DatasetNotFoundError",
    "DatasetRecord",
    "DownloadResult",
    "ExportDatasetStep",
    "IMAGE_EXTENSIONS",
    "ImportResult",
    "InProcessShards",
    "LocalBackend",
    "MANIFEST_FILE_NAME",
    "ModelNotFoundError",
    "ModelRecord",
    "NoUsableItemsError",
    "OutputExistsError",
    "Polygon",
    "RayShards",
    "RleMask",
    "SAMPLE_CLASSES",
    "SampleDataset",
    "ShardExecutor",
    "ShardFailedError",
    "ShardRange",
    "ShardReport",
    "ShardRun",
    "ShardSpec",
    "ShardTarget",
    "ShardTask",
    "VOC_ATTRIBUTES",
    "YOLO_CONFIG_NAME",
    "YoloConfig",
    "coco_to_dmv2",
    "convert_in_shards",
    "convert_shard",
    "default_backend_root",
    "dmv2_to_coco",
    "dmv2_to_voc",
    "dmv2_to_yolo",
    "make_sample_dataset",
    "read_audit",
    "read_yolo_config",
    "voc_to_dmv2",
    "yolo_to_dmv2",
]
