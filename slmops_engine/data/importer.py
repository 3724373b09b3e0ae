"""Import a data file: inspect (format, columns, shape guess), validate every row, then store the valid rows as
a new dataset. An unusable file stores nothing; a partly bad one stores only when the operator accepts."""

from __future__ import annotations

import importlib.resources
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DataError
from ..models import Dataset
from ..settings import get_settings
from .readers import check_file, read_records
from .shapes import SHAPE_LABELS, ColumnMapping, ShapeGuess, guess_shape
from .store import build_from_jsonl, save_dataset
from .validate import ValidationReport, validate_file

SAMPLE_FILE = "sample_support_tickets.jsonl"
SAMPLE_SYSTEM_PROMPT = (
    "You route customer messages for Brightwave, a smart thermostat with a mobile app and a paid plan. "
    "Reply with exactly one word, the category: billing, account, technical or shipping."
)


@dataclass
class FileInspection:
    path: Path
    format: str
    columns: list[str]
    sample: list[dict[str, Any]]
    guess: ShapeGuess
    sample_errors: list[str] = field(default_factory=list)


def inspect_file(path: str | Path, sample_rows: int = 200) -> FileInspection:
    """Format, columns and a shape guess from the first rows. Raises DataError for unusable files."""
    p = Path(path)
    fmt = check_file(p, get_settings().upload_limit_mb)
    columns: list[str] = []
    sample: list[dict[str, Any]] = []
    errors: list[str] = []
    for rec in read_records(p, fmt):
        if rec.data is None:
            errors.append(f"line {rec.line}: {rec.error}")
        else:
            sample.append(rec.data)
            columns += [c for c in rec.data if c not in columns]
        if len(sample) >= sample_rows or len(errors) >= sample_rows:
            break
    if not sample:
        detail = "; ".join(errors[:3]) if errors else "no rows"
        raise DataError(
            f"No readable rows in the file ({detail})",
            "Check the format: JSONL needs one JSON object per line; CSV needs a header row.",
        )
    return FileInspection(p, fmt, columns, sample, guess_shape(columns, sample), errors)


def validate(
    inspection: FileInspection,
    mapping: ColumnMapping | None = None,
    *,
    tokenizer_path: str | Path | None = None,
    max_length: int | None = None,
) -> ValidationReport:
    mapping = mapping or inspection.guess.mapping
    if mapping is None:
        raise DataError(
            f"Cannot tell which column is the prompt ({inspection.guess.reason})",
            f"Map the columns yourself; the file has: {', '.join(inspection.columns)}.",
        )
    missing = [c for c in mapping.required_columns() if c not in inspection.columns]
    if missing:
        raise DataError(
            f"Missing column(s): {', '.join(missing)}",
            f"The file has: {', '.join(inspection.columns)}. Map the columns to match.",
        )
    return validate_file(
        inspection.path, inspection.format, mapping, tokenizer_path=tokenizer_path, max_length=max_length
    )


def store_validated(
    report: ValidationReport,
    inspection: FileInspection,
    mapping: ColumnMapping,
    *,
    project_id: int | None,
    name: str,
    accept_partial: bool = False,
    stage: str = "upload",
) -> Dataset:
    """Store the valid rows of a validated file as a new dataset."""
    if report.valid_rows == 0:
        report.discard()
        raise DataError(f"No valid rows: {report.summary()}", "Fix the file (download the rejected rows to see why).")
    if report.n_rejected and not accept_partial:
        raise DataError(
            report.problems(),
            "Import only the valid rows (accept partial), or fix the file and upload it again.",
        )
    cache = None
    try:
        dd, cache = build_from_jsonl(report.valid_path)
        info = {
            "source": inspection.path.name,
            "format": inspection.format,
            "shape": mapping.shape,
            "shape_label": SHAPE_LABELS[mapping.shape],
            "mapping": mapping.model_dump(exclude_none=True),
            "rejected": report.n_rejected,
            "reasons": dict(report.reasons),
            "labels": dict(report.labels),
            "has_responses": report.with_response == report.valid_rows,
        }
        return save_dataset(dd, project_id=project_id, name=name, stage=stage, info=info)
    finally:
        if cache is not None:
            shutil.rmtree(cache, ignore_errors=True)
        report.discard()


def prepare_import(
    path: str | Path,
    *,
    mapping: ColumnMapping | None = None,
    tokenizer_path: str | Path | None = None,
    max_length: int | None = None,
) -> tuple[FileInspection, ColumnMapping, ValidationReport]:
    """Inspect and validate without a person to confirm the mapping: what ``store_validated`` needs next.
    The caller owns the report (``discard`` it when done)."""
    inspection = inspect_file(path)
    if mapping is None and inspection.guess.ambiguous:
        raise DataError(
            f"The columns are ambiguous: {inspection.guess.reason}",
            "Say which column is which (the Data page asks; the CLI takes --prompt/--response).",
        )
    mapping = mapping or inspection.guess.mapping
    return inspection, mapping, validate(inspection, mapping, tokenizer_path=tokenizer_path, max_length=max_length)


def import_file(
    path: str | Path,
    *,
    project_id: int | None,
    name: str | None = None,
    mapping: ColumnMapping | None = None,
    tokenizer_path: str | Path | None = None,
    max_length: int | None = None,
    accept_partial: bool = False,
    stage: str = "upload",
) -> tuple[Dataset, ValidationReport]:
    """Inspect, validate and store in one call."""
    inspection, mapping, report = prepare_import(
        path, mapping=mapping, tokenizer_path=tokenizer_path, max_length=max_length
    )
    try:
        ds = store_validated(
            report,
            inspection,
            mapping,
            project_id=project_id,
            name=name or Path(path).stem,
            accept_partial=accept_partial,
            stage=stage,
        )
    finally:
        report.discard()
    return ds, report


def sample_path() -> Path:
    return Path(str(importlib.resources.files("slmops_engine.resources").joinpath(SAMPLE_FILE)))


def import_sample(project_id: int | None, **kw: Any) -> Dataset:
    """The sample shipped with the app: Brightwave support messages routed to four categories, with a test part."""
    ds, _ = import_file(
        sample_path(), project_id=project_id, name="Brightwave support routing (sample)", stage="sample", **kw
    )
    return ds
