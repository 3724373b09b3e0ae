"""Read-only views of a search for its page: the trials so far (from the stored study, also while it runs), the best
one, and the settings a longer run of the best one uses."""

from __future__ import annotations

from ..models import Job
from .config import SweepConfig


def trials_of(job: Job) -> list[dict]:
    """The search's trials: its result once it ended, else its study as it stands (empty before the first)."""
    if job.result and "trials" in job.result:
        return list(job.result["trials"])
    import optuna

    from ..studies import storage_url
    from .runner import study_name, trial_rows

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.load_study(study_name=study_name(job.id), storage=storage_url())
    except KeyError:  # not created yet
        return []
    return trial_rows(study)


def best_of(rows: list[dict], objective: str) -> dict | None:
    complete = [r for r in rows if r["state"] == "complete" and r["value"] is not None]
    if not complete:
        return None
    pick = min if objective == "eval_loss" else max
    return pick(complete, key=lambda r: r["value"])


def longer_run(job: Job, best: dict, factor: float = 2.0) -> dict:
    """The best trial's settings, trained `factor` times as long: a fine-tuning config (as a dict)."""
    cfg = SweepConfig.model_validate(job.config)
    base = cfg.trial_config(best["params"], name=f"search #{job.id} best, trained longer")
    values = base.model_dump(mode="json")
    if values.get("max_steps"):
        values["max_steps"] = int(values["max_steps"] * factor)
    else:
        values["epochs"] = float(values["epochs"]) * factor
    return values
