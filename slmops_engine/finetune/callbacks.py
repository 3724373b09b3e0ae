"""Trainer → job: one metric point per logging step (loss, validation loss, learning rate, tokens/s, memory),
progress with ETA, and a graceful stop on Cancel that saves a checkpoint first."""

from __future__ import annotations

import time

import psutil
from transformers import TrainerCallback

from ..errors import JobCancelled
from ..stage_api import Reporter

METRICS = {
    "loss": "loss",
    "eval_loss": "eval_loss",
    "learning_rate": "learning_rate",
    "grad_norm": "grad_norm",
    "ce_loss": "ce_loss",
    "kl_loss": "kl_loss",
}


class ReporterCallback(TrainerCallback):
    def __init__(self, reporter: Reporter) -> None:
        self.reporter = reporter
        self.cancelled = False
        self._t = time.monotonic()
        self._tokens = None
        self.tokens_per_s: list[float] = []
        self.peak_rss = 0

    def on_log(self, args, state, control, logs=None, **kwargs):
        step = state.global_step
        for key, name in METRICS.items():
            if logs and key in logs:
                self.reporter.metric(name, float(logs[key]), step)
        now, seen = time.monotonic(), state.num_input_tokens_seen
        if self._tokens is not None and seen > self._tokens and now > self._t:
            rate = (seen - self._tokens) / (now - self._t)
            self.tokens_per_s.append(rate)
            self.reporter.metric("tokens_per_s", rate, step)
        self._t, self._tokens = now, seen
        rss = psutil.Process().memory_info().rss
        self.peak_rss = max(self.peak_rss, rss)
        self.reporter.metric("ram_gb", rss / 1024**3, step)

    def on_step_end(self, args, state, control, **kwargs):
        total = max(state.max_steps, 1)
        loss = next((h["loss"] for h in reversed(state.log_history) if "loss" in h), None)
        rate = f" · {self.tokens_per_s[-1]:.0f} tokens/s" if self.tokens_per_s else ""
        msg = f"step {state.global_step}/{total}" + (f" · loss {loss:.3f}" if loss is not None else "") + rate
        try:
            self.reporter.progress(0.05 + 0.85 * state.global_step / total, msg)
        except JobCancelled:
            # Stop at this step boundary and keep a checkpoint, so a retry resumes from here.
            self.cancelled = True
            control.should_save = True
            control.should_training_stop = True
        return control

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if metrics and "eval_loss" in metrics:
            self.reporter.metric("eval_loss", float(metrics["eval_loss"]), state.global_step)


class PruningCallback(TrainerCallback):
    """A search's trial: each validation loss measured during training goes to the study, and the study's pruner
    decides there and then whether this run goes on. A run it judges clearly worse stops at that step."""

    def __init__(self, ref) -> None:
        from ..studies import open_trial

        self.ref = ref
        self.trial = open_trial(ref)
        self.training = False
        self.pruned_at: tuple[int, float] | None = None  # (step, validation loss) of the verdict

    def on_train_begin(self, args, state, control, **kwargs):
        self.training = True  # evaluations before and after the loop (steps 0 and the end) are not judged

    def on_train_end(self, args, state, control, **kwargs):
        self.training = False

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        import optuna

        from ..studies import reported_value

        if not self.training or not metrics or "eval_loss" not in metrics or state.global_step <= 0:
            return control
        if self.trial is None:
            return control
        loss = float(metrics["eval_loss"])
        try:
            self.trial.report(reported_value(loss, self.ref), state.global_step)
        except optuna.exceptions.UpdateFinishedTrialError:
            self.trial = None  # the search already told how this trial ended (a retried trial): it is not judged
            return control
        if self.trial.should_prune():
            self.pruned_at = (state.global_step, loss)
            control.should_training_stop = True
        return control
