"""The search itself: an Optuna study (kept in the project's storage, so a retried search resumes it) whose every
trial is an ordinary fine-tuning job on the job engine. Optuna's pruner is fed the validation loss each trial's
trainer reports, and a trial it judges clearly worse is cancelled; the best trial's model is marked as the
search's result."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ..errors import JobCancelled
from ..settings import get_settings
from ..stage_api import Reporter
from ..studies import WARMUP_TRIALS, TrialRef, make_pruner, storage_url
from .config import SweepConfig

POLL_SECONDS = 0.3


def study_name(job_id: int | None) -> str:
    return f"slmops-sweep-{job_id if job_id is not None else 'direct'}"


def load_study(cfg: SweepConfig, job_id: int | None):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(
        study_name=study_name(job_id),
        storage=storage_url(),
        direction="minimize" if cfg.objective == "eval_loss" else "maximize",
        sampler=optuna.samplers.TPESampler(seed=cfg.seed, n_startup_trials=WARMUP_TRIALS),
        pruner=make_pruner(cfg.prune),
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


@dataclass
class InFlight:
    """A trial whose fine-tuning job runs (it reports to the study and meets the pruner's verdict itself)."""

    trial: Any
    job_id: int


def _look(f: InFlight, cfg: SweepConfig) -> tuple[str, float | None] | None:
    """One look at a trial's job: None while it runs on; ('complete', value), ('pruned', None) or ('failed', None)
    once it ended."""
    from ..jobs import get_job
    from ..models import JobStatus

    job = get_job(f.job_id)
    if not job.status.finished:
        return None
    if (job.result or {}).get("pruned"):
        return "pruned", None
    if job.status != JobStatus.succeeded:
        return "failed", None
    value = _outcome(job.result or {}, cfg.objective)
    return ("complete", value) if value is not None else ("failed", None)


def _tell(study, trial, state: str, value: float | None) -> None:
    import optuna

    states = {"pruned": optuna.trial.TrialState.PRUNED, "failed": optuna.trial.TrialState.FAIL}
    if state == "complete":
        study.tell(trial, value)
    else:
        study.tell(trial, state=states[state])


def _unfinished(study) -> list[InFlight]:
    """Trials a stopped attempt left running, followed again (a stopped fine-tune resumes from its checkpoint)."""
    import optuna

    from ..jobs import get_job, retry_job

    flights = []
    for frozen in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        job_id = frozen.user_attrs.get("job_id")
        if job_id is None:
            study.tell(frozen.number, state=optuna.trial.TrialState.FAIL)
            continue
        job = get_job(job_id)
        if job.status.value in ("failed", "cancelled") and not (job.result or {}).get("pruned"):
            retry_job(job_id)  # a pruned trial stays pruned: its outcome is told to the study on the next look
        flights.append(InFlight(optuna.trial.Trial(study, frozen._trial_id), job_id))
    return flights


def _finished(study) -> list:
    import optuna

    done = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.FAIL)
    return study.get_trials(deepcopy=False, states=done)


def side_by_side(cfg: SweepConfig) -> int:
    """Trials run at once: one on this machine; on a Ray cluster as many as heavy jobs may run together."""
    s = get_settings()
    wanted = cfg.parallel or (s.max_heavy_jobs if s.executor == "ray" else 1)
    return max(1, min(wanted, cfg.trials))


def _start_trial(study, cfg: SweepConfig, space: dict[str, Any], job_id: int | None) -> InFlight:
    """Ask the study for the next setting and queue its fine-tuning job, which reports to this trial."""
    from ..jobs import submit_job

    trial = study.ask()
    number = trial.number + 1
    ref = TrialRef(
        study=study.study_name, trial_id=trial._trial_id, prune=cfg.prune, maximize=cfg.objective != "eval_loss"
    )
    child = submit_job(
        "finetune",
        cfg.trial_config(suggest(trial, space), f"search #{job_id} trial {number}" if job_id else None, ref),
        project_id=cfg.project_id,
        title=f"Search #{job_id} · trial {number}" if job_id is not None else "Search trial",
    )
    trial.set_user_attr("job_id", child.id)
    return InFlight(trial, child.id)


def run_search(cfg: SweepConfig, reporter: Reporter, job_id: int | None = None) -> dict:
    from ..jobs import cancel_job, get_job

    study = load_study(cfg, job_id)
    flights = _unfinished(study)
    started = time.monotonic()
    space = cfg.space_values()
    width = side_by_side(cfg)

    def out_of_time() -> bool:
        return bool(cfg.time_limit_minutes) and time.monotonic() - started > cfg.time_limit_minutes * 60

    # The search's Cancel stops its trials too, wherever it lands: noticed at a progress report, or raised at any
    # line by the SIGTERM that follows an unanswered Cancel.
    try:
        while True:
            while len(flights) < width and len(_finished(study)) + len(flights) < cfg.trials and not out_of_time():
                flights.append(_start_trial(study, cfg, space, job_id))
            if not flights:
                break
            for f in list(flights):
                outcome = _look(f, cfg)
                if outcome is None:
                    continue
                flights.remove(f)
                state, value = outcome
                _tell(study, f.trial, state, value)
                if value is not None:
                    reporter.metric("objective", value, f.trial.number + 1)
                if study.best_trials:
                    reporter.metric("best", study.best_value, f.trial.number + 1)
            done = len(_finished(study))
            now = f" · trial {flights[0].trial.number + 1}: {get_job(flights[0].job_id).message}" if flights else ""
            reporter.progress(done / cfg.trials, f"{done}/{cfg.trials} trials done{now}")
            if flights:
                time.sleep(POLL_SECONDS)
    except JobCancelled:
        for f in flights:
            cancel_job(f.job_id)
        raise
    if out_of_time():
        reporter.log("time limit reached: no more trials were started")
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
