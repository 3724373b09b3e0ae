"""Read-only views for the Evaluate page and the command line: what can be evaluated, which held-out data,
past evaluations, and the per-sample filters."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import col, select

from ..db import session_scope
from ..models import Dataset, Deployment, DeploymentStatus, Job, JobStatus
from .config import TEACHER
from .labels import short_name
from .result import EvaluationResult, SampleResult


def variant_rows(project_id: int | None) -> list[dict]:
    """Every model variant (and each adapter of a multi-adapter model), plus running deployments: the refs
    `slmops eval --variants` takes, with what a script needs to choose."""
    from ..variants import list_variants

    rows = []
    for v in sorted(list_variants(project_id), key=lambda v: v.id or 0):
        adapters = (v.metrics or {}).get("adapters") or []
        common = {"stage": v.stage, "format": v.format, "precision": v.precision, "parent": v.parent_id}
        if v.format == "onnx" and adapters:
            for a in adapters:
                size = v.size_bytes + int(a.get("size_bytes") or 0)
                rows.append({"id": f"{v.id}:{a['name']}", "name": f"{v.name} · {a['name']}", "size": size, **common})
        else:
            rows.append({"id": v.id, "name": v.name, "size": v.size_bytes, **common})
    with session_scope() as s:
        q = select(Deployment).where(Deployment.status == DeploymentStatus.running)
        if project_id is not None:
            q = q.where(Deployment.project_id == project_id)
        for d in s.exec(q).all():
            rows.append(
                {
                    "id": f"deployment:{d.id}",
                    "name": f"{d.name} (deployed)",
                    "stage": "deploy",
                    "format": "endpoint",
                    "precision": "",
                    "size": None,
                    "parent": d.variant_id,
                }
            )
    return rows


def choices(project_id: int, has_teacher: bool) -> list[tuple[str, str]]:
    """(ref, label) pairs for the page's picker, the teacher first."""
    out = [(TEACHER, "Teacher")] if has_teacher else []
    for r in variant_rows(project_id):
        if r["format"] == "onnx" and isinstance(r["id"], int) and ":" not in str(r["id"]):
            label = f"{r['name']} (ONNX)"
        elif r["stage"] == "import":
            label = f"{r['name']} (base student)"
        elif r["stage"] == "finetune":
            label = f"{r['name']} (fine-tuned)"
        else:
            label = r["name"]
        out.append((str(r["id"]), label))
    return out


def default_refs(project_id: int, has_teacher: bool) -> list[str]:
    """A first comparison: the teacher, the base student, the newest fine-tune and its newest conversions."""
    rows = variant_rows(project_id)
    refs = [TEACHER] if has_teacher else []
    base = [r for r in rows if r["stage"] == "import"]
    tuned = [r for r in rows if r["stage"] == "finetune"]
    refs += [str(base[-1]["id"])] if base else []
    source = tuned[-1] if tuned else (base[-1] if base else None)
    if source is None:
        return refs
    if tuned:
        refs.append(str(source["id"]))
    latest: dict[str, dict] = {}  # the newest conversion of each precision
    for r in rows:
        if r["stage"] == "convert" and r["parent"] == source["id"]:
            latest[r["precision"]] = r
    refs += [str(r["id"]) for r in latest.values()]
    return refs


def eval_datasets(datasets: list[Dataset]) -> list[Dataset]:
    """Datasets with a held-out test part first (newest first), then the rest with answers."""
    rows = [d for d in datasets if d.info.get("splits")]
    return sorted(rows, key=lambda d: (not int(d.info["splits"].get("test", 0)), -(d.id or 0)))


def evaluation_jobs(project_id: int, limit: int = 30) -> list[Job]:
    with session_scope() as s:
        q = (
            select(Job)
            .where(Job.kind == "evaluate", Job.project_id == project_id)
            .order_by(col(Job.id).desc())
            .limit(limit)
        )
        return list(s.exec(q).all())


def latest_finished(project_id: int) -> Job | None:
    return next((j for j in evaluation_jobs(project_id) if j.status == JobStatus.succeeded), None)


@dataclass
class ComparedRow:
    """One held-out row with every variant's answer to it, keyed by the variant's short name."""

    row: int
    prompt: str
    reference: str
    label: str | None
    answers: dict[str, SampleResult]


def filter_samples(ev: EvaluationResult, mode: str) -> list[ComparedRow]:
    """Rows side by side, filtered by 'all', 'disagree' (the variants give different answers) or 'wrong' (some
    variant's label is wrong)."""
    ok = [v for v in ev.variants if v.ok]
    if not ok:
        return []
    out = []
    for i, first in enumerate(ok[0].samples):
        answers = {short_name(v): v.samples[i] for v in ok}
        texts = {(s.answer or "").strip().lower() for s in answers.values()}
        if mode == "disagree" and len(texts) < 2:
            continue
        if mode == "wrong" and not any(s.correct is False for s in answers.values()):
            continue
        out.append(ComparedRow(first.row, first.prompt, first.reference, first.label, answers))
    return out


def sample_rank(s: SampleResult) -> tuple:
    """Better answers sort higher: right label first, then ROUGE-L, then the judge; failed answers last."""
    if s.error or s.answer is None:
        return (-1.0, 0.0, 0.0)
    return (float(bool(s.correct)) if s.correct is not None else 0.0, s.rouge_l or 0.0, s.judge_score or 0.0)


def best_and_worst(samples: list[SampleResult], n: int = 3) -> tuple[list[SampleResult], list[SampleResult]]:
    """The n best answers and the n worst of the rest (worst first)."""
    ranked = sorted(samples, key=sample_rank, reverse=True)
    best = ranked[:n]
    return best, [s for s in ranked[::-1] if s not in best][:n]
