"""Optuna studies of the hyper-parameter search: where they are kept and the pruner that judges a trial.

Both the search (which asks for trials) and a trial's fine-tuning run (which reports its validation loss and
asks the pruner, at the step it evaluated, whether to go on) open the same study from here. The verdict is taken
inside the trial's own training loop, so it never races the trial's end: a trial the pruner judges clearly worse
stops at that evaluation on any machine, fast or slow."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from .settings import get_settings

WARMUP_TRIALS = 2  # trials that always finish, so the pruner has something to compare with
WARMUP_STEPS = 1  # evaluations before this step are never judged (step 0 is the loss before training)


class TrialRef(BaseModel):
    """Which study trial a fine-tuning run belongs to (set by the search, never by an operator)."""

    model_config = ConfigDict(extra="forbid")

    study: str = Field(description="Name of the search's Optuna study.")
    trial_id: int = Field(description="Optuna's id of the trial in that study.")
    prune: bool = Field(True, description="Whether the search's pruner may stop this trial early.")
    maximize: bool = Field(False, description="The search maximizes its objective (the loss is reported negated).")


def storage_url() -> str:
    """Where studies are kept: next to the SQLite database, or in the shared PostgreSQL database."""
    url = get_settings().db_url
    return f"sqlite:///{get_settings().home / 'optuna.db'}" if url.startswith("sqlite") else url


def make_pruner(prune: bool):
    import optuna

    if not prune:
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(n_startup_trials=WARMUP_TRIALS, n_warmup_steps=WARMUP_STEPS)


def open_trial(ref: TrialRef):
    """The trial as a live Optuna object, in a process other than the search's (a trial's worker)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=ref.study, storage=storage_url(), pruner=make_pruner(ref.prune))
    return optuna.trial.Trial(study, ref.trial_id)


def reported_value(eval_loss: float, ref: TrialRef) -> float:
    """The validation loss as the study compares it: a maximizing study (label accuracy) sees it negated, so that
    'better' points the study's way."""
    return -eval_loss if ref.maximize else eval_loss
