"""Data: read, validate, normalise, store, split and describe training data."""

from .importer import (
    FileInspection,
    import_file,
    import_sample,
    inspect_file,
    prepare_import,
    sample_path,
    store_validated,
    validate,
)
from .shapes import SHAPE_LABELS, ColumnMapping, guess_shape
from .split import SplitConfig, split_dataset
from .stats import dataset_stats, preview_rows
from .store import export_jsonl, get_dataset, lineage, list_datasets, load_dataset_dict, save_dataset
from .uploads import save_upload
from .validate import ValidationReport

__all__ = [
    "SHAPE_LABELS",
    "ColumnMapping",
    "FileInspection",
    "SplitConfig",
    "ValidationReport",
    "dataset_stats",
    "export_jsonl",
    "get_dataset",
    "guess_shape",
    "import_file",
    "import_sample",
    "inspect_file",
    "lineage",
    "list_datasets",
    "load_dataset_dict",
    "prepare_import",
    "preview_rows",
    "sample_path",
    "save_dataset",
    "save_upload",
    "split_dataset",
    "store_validated",
    "validate",
]
