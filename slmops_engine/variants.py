"""Model variants of fine-tuning: the base each run starts from, the result it records, and its siblings
(several adapters trained on one base)."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import col, select

from .db import session_scope
from .models import ModelVariant
from .students import StudentChoice


def base_variant(student: StudentChoice, path: Path, project_id: int | None) -> ModelVariant:
    """The variant of the base model (the bundled one, or a record of this folder made on first use)."""
    if student.source == "bundled":
        from .bundled import bundled_variant

        v = bundled_variant()
        if v is not None:
            return v
    with session_scope() as s:
        v = s.exec(
            select(ModelVariant).where(ModelVariant.stage == "import", ModelVariant.artifact_path == str(path))
        ).first()
        if v is None:
            size = sum(f.stat().st_size for f in path.glob("*.safetensors"))
            v = ModelVariant(
                project_id=project_id,
                name=student.label,
                stage="import",
                format="hf",
                artifact_path=str(path),
                size_bytes=size,
                config=student.model_dump(mode="json"),
            )
            s.add(v)
    return v


def register(**fields) -> ModelVariant:
    with session_scope() as s:
        v = ModelVariant(stage="finetune", format="hf", **fields)
        s.add(v)
    return v


def adapter_siblings(base_id: int) -> list[ModelVariant]:
    """Adapters trained on the same base: the optimize and deploy stages can serve them from one base."""
    with session_scope() as s:
        rows = s.exec(
            select(ModelVariant)
            .where(ModelVariant.parent_id == base_id, ModelVariant.stage == "finetune")
            .order_by(col(ModelVariant.id))
        ).all()
    return [v for v in rows if v.config.get("adapter_path")]


def list_variants(project_id: int | None = None, stage: str | None = None) -> list[ModelVariant]:
    with session_scope() as s:
        q = select(ModelVariant).order_by(col(ModelVariant.id).desc())
        if project_id is not None:
            q = q.where((ModelVariant.project_id == project_id) | (col(ModelVariant.project_id).is_(None)))
        if stage is not None:
            q = q.where(ModelVariant.stage == stage)
        return list(s.exec(q).all())
