"""The search itself: an Optuna study (kept in the project's storage, so a retried search resumes it) whose every
trial is an ordinary fine-tuning job on the job engine. Optuna's pruner is fed the validation loss each trial's
trainer reports, and a trial it judges clearly worse is cancelled; the best trial's model is marked as the
search's result."""

from __future__ import annotations

import time
from typing import Any

from ..errors import JobCancelled
from ..settings import get_settings
from ..stages.base import Reporter
from .config import SweepConfig

POLL_SECONDS = 0.3
WARMUP_TRIALS = 2  # trials that always finish, so the pruner has something to compare with


def storage_url() -> str:
    """Where studies are kept: next to the SQLite database, or in the shared PostgreSQL database."""
    url = get_settings().db_url
    return f"sqlite:///{get_settings().home / 'optuna.db'}" if url.startswith("sqlite") else url


def study_name(job_id: int | None) -> str:
    return f"slmops-sweep-{job_id if job_id is not None else 'direct'}"


def load_study(cfg: SweepConfig, job_id: int | None):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pruner = (
        optuna.pruners.MedianPruner(n_startup_trials=WARMUP_TRIALS, n_warmup_steps=1)
        if cfg.prune
        else optuna.pruners.NopPruner()
    )
    return optuna.create_study(
        study_name=study_name(job_id),
        storage=storage_url(),
        direction="minimize" if cfg.objective == "eval_loss" else "maximize",
        sampler=optuna.samplers.TPESampler(seed=cfg.seed, n_startup_trials=WARMUP_TRIALS),
        pruner=pruner,
        load_if_exists=True,
    )


def suggest(trial, space: dict[str, Any]) -> dict[str, Any]:
    """The trial's setting: a choice from each list, a value from each range (on a log scale where asked)."""
    params = {}
    for name, spec in space.items():
        if isinstance(spec, list):
            params[name] = trial.suggest_categorical(name, spec)
        elif isinstance(spec["low"], int) and isinstance(spec["high"], int) and not spec.get("log"):
            params[name] = trial.suggest_int(name, spec["low"], spec["high"])
        else:
            params[name] = trial.suggest_float(name, float(spec["low"]), float(spec["high"]), log=bool(spec.get("log")))
    return params


def _outcome(result: dict, objective: str) -> float | None:
    value = result.get("eval_loss_end" if objective == "eval_loss" else "eval_accuracy_end")
    return float(value) if value is not None else None


def _follow(trial, job_id: int, cfg: SweepConfig, reporter: Reporter, done: int) -> tuple[str, float | None]:
    """Wait for a trial's job, reporting its validation loss to the pruner; ('complete', value), ('pruned', None)
    or ('failed', None). The search's own Cancel cancels the trial's job first."""
    from ..jobs import cancel_job, get_job, job_metrics

    reported: set[int] = set()
    while True:
        job = get_job(job_id)
        if job.status.finished:
            break
        losses = sorted((p.step, p.value) for p in job_metrics(job_id) if p.name == "eval_loss" and p.step > 0)
        for step, value in losses:
            if step in reported:
                continue
            reported.add(step)
            trial.report(value, step)
            if trial.should_prune():
                cancel_job(job_id)
                _wait_finished(job_id)
                return "pruned", None
        try:
            reporter.progress(done / cfg.trials, f"trial {trial.number + 1}/{cfg.trials}: {job.message}")
        except JobCancelled:
            cancel_job(job_id)
            raise
        time.sleep(POLL_SECONDS)
    if job.status.value != "succeeded":
        return "failed", None
    value = _outcome(job.result or {}, cfg.objective)
    return ("complete", value) if value is not None else ("failed", None)


def _wait_finished(job_id: int, timeout: float = 120) -> None:
    from ..jobs import get_job

    end = time.monotonic() + timeout
    while not get_job(job_id).status.finished and time.monotonic() < end:
        time.sleep(0.2)


def _tell(study, trial, state: str, value: float | None) -> None:
    import optuna

    states = {"pruned": optuna.trial.TrialState.PRUNED, "failed": optuna.trial.TrialState.FAIL}
    if state == "complete":
        study.tell(trial, value)
    else:
        study.tell(trial, state=states[state])


def _resume(study, cfg: SweepConfig, reporter: Reporter) -> None:
    """Trials a stopped attempt left running: follow their jobs again (or record how they ended)."""
    import optuna

    from ..jobs import get_job

    for frozen in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        job_id = frozen.user_attrs.get("job_id")
        if job_id is None:
            study.tell(frozen.number, state=optuna.trial.TrialState.FAIL)
            continue
        trial = optuna.trial.Trial(study, frozen._trial_id)
        if get_job(job_id).status.value in ("failed", "cancelled"):
            from ..jobs import retry_job

            retry_job(job_id)  # a fine-tune resumes from its last checkpoint
        state, value = _follow(trial, job_id, cfg, reporter, len(_finished(study)))
        _tell(study, trial, state, value)


def _finished(study) -> list:
    import optuna

    done = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.FAIL)
    return study.get_trials(deepcopy=False, states=done)


def run_search(cfg: SweepConfig, reporter: Reporter, job_id: int | None = None) -> dict:
    from ..jobs import submit_job

    study = load_study(cfg, job_id)
    _resume(study, cfg, reporter)
    started = time.monotonic()
    space = cfg.space_values()
    while len(_finished(study)) < cfg.trials:
        if cfg.time_limit_minutes and time.monotonic() - started > cfg.time_limit_minutes * 60:
            reporter.log("time limit reached: no more trials are started")
            break
        trial = study.ask()
        params = suggest(trial, space)
        name = f"search #{job_id} trial {trial.number + 1}" if job_id is not None else None
        child = submit_job(
            "finetune",
            cfg.trial_config(params, name),
            project_id=cfg.project_id,
            title=f"Search #{job_id} · trial {trial.number + 1}" if job_id is not None else "Search trial",
        )
        trial.set_user_attr("job_id", child.id)
        state, value = _follow(trial, child.id, cfg, reporter, len(_finished(study)))
        _tell(study, trial, state, value)
        if value is not None:
            reporter.metric("objective", value, trial.number + 1)
        if study.best_trials:
            reporter.metric("best", study.best_value, trial.number + 1)
    reporter.progress(1.0, "Search done")
    return summary(study, cfg, job_id)


def trial_rows(study) -> list[dict]:
    """Every trial: its number, how it ended, its value, its settings and its job."""
    return [
        {
            "trial": t.number + 1,
            "state": t.state.name.lower(),
            "value": t.value,
            "params": dict(t.params),
            "job_id": t.user_attrs.get("job_id"),
        }
        for t in study.get_trials(deepcopy=False)
    ]


def summary(study, cfg: SweepConfig, job_id: int | None) -> dict:
    """The search's result; the best trial's model gets the search in its lineage."""
    import optuna

    rows = trial_rows(study)
    complete = [t for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))]
    out: dict[str, Any] = {
        "study": study.study_name,
        "objective": cfg.objective,
        "trials": rows,
        "pruned": sum(r["state"] == "pruned" for r in rows),
        "failed": sum(r["state"] == "fail" for r in rows),
    }
    if not complete:
        return out
    best = study.best_trial
    out |= {"best_trial": best.number + 1, "best_value": best.value, "best_params": dict(best.params)}
    out["best_variant_id"] = _promote(best.user_attrs.get("job_id"), job_id, best.number + 1, dict(best.params))
    return out


def _promote(trial_job_id: int | None, search_job_id: int | None, number: int, params: dict) -> int | None:
    """Record on the best trial's model that it is the search's pick (its lineage names the search)."""
    from ..db import session_scope
    from ..jobs import get_job
    from ..models import ModelVariant

    if trial_job_id is None:
        return None
    variant_id = (get_job(trial_job_id).result or {}).get("variant_id")
    if variant_id is None:
        return None
    with session_scope() as s:
        v = s.get(ModelVariant, variant_id)
        if v is None:
            return None
        v.config = {**(v.config or {}), "search": {"job_id": search_job_id, "trial": number, "params": params}}
        s.add(v)
    return variant_id
