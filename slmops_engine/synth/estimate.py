"""How long a teacher run will take, from measurements only: the last finished run of the same teacher on this
machine when there is one, else the figure measured on a 2-core laptop for a teacher on this machine choosing
among labels (bench/demo_outcome.py). Where neither applies there is no estimate: the run's page shows its own
once the first answers arrive."""

from __future__ import annotations

from ..jobs.estimates import LAPTOP, Estimate, recent_jobs, took
from ..teachers import Provider, TeacherConfig
from .config import SynthConfig

# bench/demo_outcome.py, SmolLM2-135M choosing among 4 routes with 4 examples per prompt on 2 cores: 240 prompts in
# 93.5 s including the model's load.
LOCAL_LABEL_SECONDS = 0.39
LOCAL_LOAD_SECONDS = 10.0
LOCAL_PEAK_BYTES = int(1.4e9)  # bench/estimates.py: the worker with the bundled teacher loaded


def _same_teacher(a: dict, b: TeacherConfig) -> bool:
    return (
        a.get("provider") == b.provider.value
        and a.get("model") == b.model
        and a.get("base_url") == b.base_url
        and a.get("local_path") == b.local_path
    )


def last_run(cfg: SynthConfig, labelled: bool, project_id: int | None = None):
    """The newest finished run of this teacher on the same kind of task that asked anything, or None."""
    for job in recent_jobs("synth"):
        result = job.result or {}
        if project_id is not None and job.project_id != project_id:
            continue
        if not int(result.get("answered") or 0) or bool(result.get("labels")) != labelled:
            continue
        if _same_teacher(job.config.get("teacher", {}), cfg.teacher):
            return job
    return None


def run_estimate(cfg: SynthConfig, to_ask: int, labels: list[str], project_id: int | None = None) -> Estimate | None:
    if to_ask <= 0:
        return Estimate(0.0, "every answer is saved")
    job = last_run(cfg, bool(labels), project_id)
    if job is not None:
        per = took(job) / int(job.result["answered"])
        return Estimate(per * to_ask, f"from run #{job.id} of this teacher", (job.result or {}).get("peak_rss_bytes"))
    if cfg.teacher.provider == Provider.local and labels:
        return Estimate(LOCAL_LOAD_SECONDS + LOCAL_LABEL_SECONDS * to_ask, LAPTOP, LOCAL_PEAK_BYTES)
    return None


def estimate(cfg: SynthConfig) -> Estimate | None:
    """The stage's estimate for a run about to start: the answers it still has to ask, at the measured pace."""
    from ..data.store import get_dataset
    from .views import planned_prompts, run_plan

    plan = run_plan(cfg)
    needed = planned_prompts(get_dataset(cfg.dataset_id), cfg.splits, cfg.max_prompts) * cfg.answers_per_prompt
    return run_estimate(cfg, needed - min(plan["saved"], needed), plan["labels"], cfg.project_id)
