"""Read-only views for the Fine-tune page: which datasets can train, what a run will do, how a run is going,
and what earlier runs made. Plain Python, no UI library."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..jobs.estimates import Estimate
from ..models import Dataset, MetricPoint, ModelVariant
from ..teachers import Provider, TeacherConfig
from .config import FinetuneConfig

ANSWERED_STAGES = ("synth", "review")  # datasets the teacher answered (and reviewed versions of them)
LOSS_NAMES = {
    "loss": "training loss",
    "eval_loss": "validation loss",
    "ce_loss": "answer loss (cross-entropy)",
    "kl_loss": "distance to the teacher (KL)",
}
_STEP = re.compile(r"step (\d+)/(\d+)")
_CHECKPOINT = re.compile(r"checkpoint-(\d+)$")


def trainable_datasets(datasets: Iterable[Dataset]) -> list[Dataset]:
    """Datasets with answers to learn from: teacher-answered ones first, newest first within each group."""
    rows = [d for d in datasets if d.info.get("has_responses")]
    return sorted(rows, key=lambda d: (d.stage not in ANSWERED_STAGES, -(d.id or 0)))


def kd_teacher_path(teacher: TeacherConfig | None) -> str | None:
    """The folder of a teacher that runs on this machine: the natural teacher for logit distillation."""
    if teacher is not None and teacher.provider == Provider.local and teacher.local_path:
        return teacher.local_path
    return None


@dataclass
class ResourceEstimate:
    need: int  # bytes the run needs at its peak
    budget: int  # bytes free for it
    where: str  # "RAM" or "GPU memory"
    estimate: Estimate  # time and memory, with where the figures come from


def resource_estimate(cfg: FinetuneConfig) -> ResourceEstimate | None:
    """The estimate the page shows and the preflight judges; None when the student or the data cannot be read."""
    from ..errors import SlmopsError
    from ..sysinfo import system_info
    from .estimate import estimate

    try:
        est = estimate(cfg)
    except (SlmopsError, OSError, ValueError):
        return None
    sysi = system_info()
    where = "GPU memory" if sysi.has_cuda else "RAM"
    return ResourceEstimate(est.peak_bytes or 0, sysi.train_memory_budget, where, est)


def step_of(message: str) -> tuple[int, int] | None:
    """(step, total) from a progress message such as 'step 12/40 · loss 1.234'."""
    m = _STEP.search(message or "")
    return (int(m.group(1)), int(m.group(2))) if m else None


def latest_values(points: Iterable[MetricPoint]) -> dict[str, float]:
    """Each metric's value at its highest step."""
    best: dict[str, tuple[int, float]] = {}
    for p in points:
        if p.name not in best or p.step >= best[p.name][0]:
            best[p.name] = (p.step, p.value)
    return {k: v for k, (_, v) in best.items()}


def first_value(points: Iterable[MetricPoint], name: str) -> float | None:
    """A metric's value at its lowest step (validation loss before training)."""
    rows = [p for p in points if p.name == name]
    return min(rows, key=lambda p: p.step).value if rows else None


def last_checkpoint_step(run_dir: Path) -> int | None:
    """The step of the newest complete checkpoint a run kept (Resume continues from it). Read only: a folder
    without trainer_state.json was cut short and is not counted (train.last_complete_checkpoint removes it)."""
    steps = [
        int(m.group(1))
        for p in (run_dir / "checkpoints").glob("checkpoint-*")
        if (m := _CHECKPOINT.search(p.name)) and (p / "trainer_state.json").exists()
    ]
    return max(steps) if steps else None


def folder_bytes(path: str | None) -> int:
    """Size of the files in a folder (0 when there is none)."""
    if not path or not Path(path).is_dir():
        return 0
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def result_row(v: ModelVariant) -> dict:
    """One fine-tuned model, as the results table shows it (raw numbers; the page formats them)."""
    m, c = v.metrics or {}, v.config or {}
    start, end = m.get("eval_loss_start"), m.get("eval_loss_end")
    return {
        "id": v.id,
        "name": v.name,
        "method": c.get("method", ""),
        "adapter": c.get("adapter_name") if c.get("adapter_path") else None,
        "eval_start": start,
        "eval_end": end,
        "gain": (start - end) / start if start and end is not None else None,
        "accuracy_start": m.get("eval_accuracy_start"),
        "accuracy_end": m.get("eval_accuracy_end"),
        "steps": m.get("steps"),
        "tokens_per_s": m.get("tokens_per_s"),
        "seconds": m.get("seconds"),
        "size_bytes": v.size_bytes,
        "adapter_bytes": folder_bytes(c.get("adapter_path")),
        "base_id": v.parent_id,
        "created_at": v.created_at,
    }


def accuracy_note(m: dict) -> str:
    """'label accuracy on the validation part 2% → 85%' for a labelled task, else ''."""
    start, end = m.get("eval_accuracy_start"), m.get("eval_accuracy_end")
    if end is None:
        return ""
    return f"label accuracy on the validation part {start:.0%} → {end:.0%}" if start is not None else f"{end:.0%}"


MIN_EVAL_ROWS = 20  # below this a change in validation loss is mostly which few examples happened to be held out


def too_few_to_judge(m: dict) -> str:
    """' (measured on 2 examples: too few to judge)' when the validation part was that small, else ''."""
    n = m.get("eval_rows")
    if n is None or n >= MIN_EVAL_ROWS:
        return ""
    return f" (measured on {n} example{'s' if n != 1 else ''}: too few to judge)"
