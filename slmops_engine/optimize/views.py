"""Read-only views for the Optimize page: which models can be converted, which data checks them, which
conversion jobs still need attention, and one comparison row per model. Plain Python, no UI library."""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import col, select

from ..db import session_scope
from ..models import Dataset, Job, JobStatus, ModelVariant
from .routes import is_plain, route_name

CONVERTIBLE_STAGES = ("finetune", "import")  # Hugging Face folders: fine-tuned (merged) models and base students


def convertible(variants: Iterable[ModelVariant]) -> list[ModelVariant]:
    """Hugging Face models that can be converted: fine-tuned ones first, newest first within each group."""
    rows = [v for v in variants if v.format == "hf" and v.stage in CONVERTIBLE_STAGES]
    return sorted(rows, key=lambda v: (CONVERTIBLE_STAGES.index(v.stage), -(v.id or 0)))


def held_out(ds: Dataset) -> tuple[str, int] | None:
    """The part the quick check reads (validation, else test) and its size; None when there is only train."""
    splits = ds.info.get("splits", {})
    return next(((p, int(splits[p])) for p in ("validation", "test") if int(splits.get(p, 0)) > 0), None)


def check_datasets(datasets: Iterable[Dataset]) -> list[Dataset]:
    """Datasets with answers to check against: those with a held-out part first, newest first within each."""
    rows = [d for d in datasets if d.info.get("has_responses")]
    return sorted(rows, key=lambda d: (held_out(d) is None, -(d.id or 0)))


def convert_jobs(project_id: int, source_id: int, limit: int = 50) -> list[Job]:
    """This source's conversion jobs, newest first."""
    with session_scope() as s:
        q = (
            select(Job)
            .where(Job.kind == "convert", Job.project_id == project_id)
            .order_by(col(Job.id).desc())
            .limit(limit)
        )
        jobs = list(s.exec(q).all())
    return [j for j in jobs if (j.config or {}).get("variant_id") == source_id]


def open_jobs(jobs: list[Job]) -> list[Job]:
    """Jobs that still need the operator: in flight, or failed/cancelled with no later success of that precision.

    ``jobs`` newest first (as ``convert_jobs`` returns them); the result is oldest first, the order they run in."""
    done: set[str] = set()
    out = []
    for job in jobs:
        precision = (job.config or {}).get("precision", "")
        if job.status == JobStatus.succeeded:
            done.add(precision)
        elif not job.status.finished or precision not in done:
            out.append(job)
    return out[::-1]


def conversion_label(v: ModelVariant, name_route: bool = False) -> str:
    """'ONNX int8', 'ONNX int4 (block offsets kept)': an int4 route is named when it is not the plain one, or when
    ``name_route`` (another int4 route sits beside it)."""
    label = f"ONNX {v.precision}"
    if v.precision == "int4" and (name_route or not is_plain(v.config or {})):
        label += f" ({route_name(v.config or {})})"
    return label


def conversion_labels(conversions: list[ModelVariant]) -> dict[int | None, str]:
    """One label per conversion of a source, told apart by route, then by id where two are alike."""
    int4_routes = {route_name(v.config or {}) for v in conversions if v.precision == "int4"}
    labels = {v.id: conversion_label(v, len(int4_routes) > 1) for v in conversions}
    values = list(labels.values())
    return {i: f"{label} · #{i}" if values.count(label) > 1 else label for i, label in labels.items()}


def comparison(source: ModelVariant, conversions: list[ModelVariant]) -> list[dict]:
    """The source (PyTorch) and each conversion as comparable rows; quality numbers are None when unchecked.

    The source's own speed and quality come from the newest quick check (each check measures both sides)."""
    checked = [v for v in sorted(conversions, key=lambda v: v.id or 0) if (v.metrics or {}).get("quality")]
    ref = checked[-1].metrics["quality"]["source"] if checked else {}
    src_size = source.size_bytes or None
    rows = [
        {
            "id": source.id,
            "label": "Source (PyTorch)",
            "precision": source.precision or "original",
            "size_bytes": source.size_bytes,
            "size_ratio": 1.0 if src_size else None,
            "kept": 1.0 if checked else None,
            "speedup": 1.0 if checked else None,
            "tokens_per_s": ref.get("tokens_per_s"),
            "perplexity": ref.get("perplexity"),
            "rouge_l": ref.get("rouge_l"),
            "ttft_ms": ref.get("ttft_ms"),
            "memory_mb": None,
            "build_seconds": None,
            "rows": None,
        }
    ]
    labels = conversion_labels(conversions)
    for v in sorted(conversions, key=lambda v: v.id or 0):
        m = v.metrics or {}
        q = m.get("quality") or {}
        onnx = q.get("onnx") or {}
        size = v.size_bytes or m.get("size_bytes")
        rows.append(
            {
                "id": v.id,
                "label": labels[v.id],
                "precision": v.precision,
                "size_bytes": size,
                "size_ratio": m.get("size_ratio_to_source") or (size / src_size if size and src_size else None),
                "kept": q.get("kept"),
                "speedup": q.get("speedup"),
                "tokens_per_s": onnx.get("tokens_per_s"),
                "perplexity": onnx.get("perplexity"),
                "rouge_l": onnx.get("rouge_l"),
                "ttft_ms": onnx.get("ttft_ms"),
                "memory_mb": onnx.get("memory_mb"),
                "build_seconds": m.get("build_seconds"),
                "rows": q.get("rows"),
            }
        )
    return rows
