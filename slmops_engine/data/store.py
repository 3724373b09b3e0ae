"""Datasets on disk (Arrow, via the `datasets` library, under SLMOPS_HOME/datasets/<id>/) and their rows in the
database. A stored dataset is immutable: splitting, answering or reviewing makes a new one that records its
parent."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import Any

from sqlmodel import col, select

from ..db import get_or_raise, session_scope
from ..errors import DataError
from ..models import Dataset
from ..settings import get_settings

CANONICAL = ("prompt", "response", "system", "label")
SPLITS = ("train", "validation", "test")


def _features():
    from datasets import Features, Value

    return Features(
        {
            "prompt": Value("string"),
            "response": Value("string"),
            "system": Value("string"),
            "label": Value("string"),
            "split": Value("string"),
            "line": Value("int64"),
            "n_tokens": Value("int64"),
        }
    )


def _tmp_dir() -> Path:
    d = get_settings().home / "tmp" / uuid.uuid4().hex
    d.mkdir(parents=True, exist_ok=True)
    return d


def build_from_jsonl(path: Path):
    """Canonical JSONL -> DatasetDict split by the rows' `split` field (all train when absent). Streams to disk."""
    from datasets import Dataset as HFDataset
    from datasets import DatasetDict

    cache = _tmp_dir()
    try:
        full = HFDataset.from_json(str(path), features=_features(), cache_dir=str(cache), keep_in_memory=False)
        parts: dict[str, list[int]] = {}
        for i, split in enumerate(full["split"]):
            parts.setdefault(split or "train", []).append(i)
        full = full.remove_columns("split")
        if len(parts) <= 1:
            return DatasetDict({next(iter(parts), "train"): full}), cache
        return DatasetDict({name: full.select(idx) for name, idx in parts.items()}), cache
    except BaseException:
        shutil.rmtree(cache, ignore_errors=True)
        raise


def save_dataset(
    dd,
    *,
    project_id: int | None,
    name: str,
    stage: str,
    parent_id: int | None = None,
    info: dict[str, Any] | None = None,
    job_id: int | None = None,
) -> Dataset:
    """Write a DatasetDict under datasets/<id>/ and record it. The folder appears only once complete."""
    root = get_settings().datasets_dir
    staging = root / f".staging-{uuid.uuid4().hex}"
    dd.save_to_disk(str(staging))
    counts = {k: len(v) for k, v in dd.items()}
    info = {**(info or {}), "splits": counts}
    try:
        with session_scope() as s:
            row = Dataset(
                project_id=project_id,
                name=name,
                stage=stage,
                parent_id=parent_id,
                n_rows=sum(counts.values()),
                info=info,
                job_id=job_id,
            )
            s.add(row)
            s.flush()
            final = root / str(row.id)
            staging.rename(final)
            row.path = str(final)
            s.add(row)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    from ..artifacts import push

    push((f"datasets/{row.id}",))  # to the object store, when the cluster shares one (artifacts.py)
    return row


def get_dataset(dataset_id: int) -> Dataset:
    return get_or_raise(Dataset, dataset_id, "Dataset", "List datasets on the Data page.")


def list_datasets(project_id: int | None = None) -> list[Dataset]:
    with session_scope() as s:
        q = select(Dataset).order_by(col(Dataset.id).desc())
        if project_id is not None:
            q = q.where(Dataset.project_id == project_id)
        return list(s.exec(q).all())


def load_dataset_dict(dataset_id: int):
    from datasets import load_from_disk

    d = get_dataset(dataset_id)
    if not d.path or not Path(d.path).exists():
        raise DataError(
            f"The files of dataset {dataset_id} are missing ({d.path})",
            "They may have been deleted from the storage folder; import the data again.",
        )
    return load_from_disk(d.path)


def lineage(dataset_id: int) -> list[Dataset]:
    """This dataset and its ancestors, newest first."""
    chain, seen = [], set()
    current: int | None = dataset_id
    while current is not None and current not in seen:
        seen.add(current)
        d = get_dataset(current)
        chain.append(d)
        current = d.parent_id
    return chain


def export_jsonl(dataset_id: int, out: Path, split: str | None = None) -> int:
    dd = load_dataset_dict(dataset_id)
    n = 0
    with open(out, "w", encoding="utf-8") as f:
        for name, part in dd.items():
            if split and name != split:
                continue
            for row in part:
                rec = {k: row[k] for k in CANONICAL if row.get(k) is not None}
                f.write(json.dumps({**rec, "split": name}, ensure_ascii=False) + "\n")
                n += 1
    return n


def cleanup_tmp(max_age_hours: float = 24) -> int:
    """Remove validation leftovers older than ``max_age_hours`` (an upload the operator never confirmed)."""
    import time

    tmp = get_settings().home / "tmp"
    if not tmp.exists():
        return 0
    cutoff = time.time() - max_age_hours * 3600
    removed = 0
    for p in tmp.iterdir():
        if p.stat().st_mtime < cutoff:
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
            removed += 1
    return removed
