"""The stage contract, on the ground floor: a strict config base, preflight issues, the reporter interface and the
Stage record every job kind registers (stages/). Every stage package and the job engine import it; it imports
none of them."""

from __future__ import annotations

import importlib
import json
import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from .errors import JobCancelled

log = logging.getLogger("slmops.stage")

# The job kinds and the modules that register them (stages/ loads a module only when its kind is run).
BUILTIN_STAGES: dict[str, str] = {
    "prepare_model": "slmops_engine.stages.prepare_model",
    "synth": "slmops_engine.stages.synth",
    "finetune": "slmops_engine.stages.finetune",
    "convert": "slmops_engine.stages.convert",
    "evaluate": "slmops_engine.stages.evaluate",
    "pipeline": "slmops_engine.stages.pipeline",
    "sweep": "slmops_engine.stages.sweep",
}


def stage_paths() -> dict[str, str]:
    paths = dict(BUILTIN_STAGES)
    for mod_name in filter(None, (m.strip() for m in os.environ.get("SLMOPS_STAGE_PLUGINS", "").split(","))):
        paths.update(importlib.import_module(mod_name).STAGES)
    return paths


def _skeleton(message: str) -> str:
    """A message without its numbers: '12/40 answered' and '13/40 answered' are the same kind of message."""
    return re.sub(r"[\d.,/$%:·-]+", "", message).strip()


class StageConfig(BaseModel):
    """Base of every stage config: unknown keys are refused, so a typo never silently becomes a default."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class Issue(BaseModel):
    """A preflight finding. Errors block Start; warnings are shown and do not."""

    level: Literal["error", "warning", "info"] = "error"
    title: str
    detail: str = ""

    @property
    def blocking(self) -> bool:
        return self.level == "error"


def has_blocking(issues: list[Issue]) -> bool:
    return any(i.blocking for i in issues)


class Reporter:
    """Progress, metrics and cancellation for a stage. This base runs in-process (CLI, notebooks, benchmarks):
    it logs and writes metrics.jsonl; the job worker's subclass also writes the database."""

    def __init__(self, run_dir: Path | None = None, *, resuming: bool = False) -> None:
        self.run_dir = run_dir
        self.job_id: int | None = None  # the job it reports for (JobReporter); None in-process
        self.resuming = resuming
        self.progress_value = 0.0
        self.message = ""
        self._cancelled = False
        self._started = time.monotonic()
        if run_dir is not None:
            run_dir.mkdir(parents=True, exist_ok=True)

    # -- what stages call -------------------------------------------------------------------------------------
    def progress(self, fraction: float, message: str | None = None, *, eta_seconds: float | None = None) -> None:
        new = min(max(float(fraction), 0.0), 1.0)
        if message is not None:
            # Log a line per step of 5% (or a new kind of message), not one per call: stages report often.
            if int(new * 20) != int(self.progress_value * 20) or _skeleton(message) != _skeleton(self.message):
                log.info("%3.0f%% %s", new * 100, message)
            self.message = message
        self.progress_value = new
        self._on_progress(eta_seconds)
        self.check_cancelled()

    def metric(self, name: str, value: float, step: int) -> None:
        point = {"name": name, "step": int(step), "value": float(value), "ts": time.time()}
        if self.run_dir is not None:
            with open(self.run_dir / "metrics.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps(point) + "\n")
        self._on_metric(point)

    def state(self, data: dict) -> None:
        """A small live snapshot for the UI (counters, recent items): runs/<job>/state.json, replaced atomically."""
        if self.run_dir is None:
            return
        tmp = self.run_dir / "state.json.tmp"
        tmp.write_text(json.dumps(data, default=str), encoding="utf-8")
        tmp.replace(self.run_dir / "state.json")

    def log(self, message: str) -> None:
        log.info(message)

    def cancel(self) -> None:
        self._cancelled = True

    def check_cancelled(self) -> None:
        if self._cancelled or self._cancel_requested():
            self._cancelled = True
            raise JobCancelled()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def eta(self) -> float | None:
        """Seconds left, extrapolated from progress so far; None until there is enough to go on."""
        p = self.progress_value
        if p <= 0.01 or self.elapsed < 2.0:
            return None
        return self.elapsed * (1 - p) / p

    def flush(self) -> None:
        """Write anything buffered (the worker calls this when the stage returns)."""

    # -- hooks for subclasses ---------------------------------------------------------------------------------
    def _on_progress(self, eta_seconds: float | None) -> None:
        pass

    def _on_metric(self, point: dict) -> None:
        pass

    def _cancel_requested(self) -> bool:
        return False


def _no_issues(config: Any) -> list[Issue]:
    return []


def _nothing(config: Any) -> None:
    return None


@dataclass(frozen=True)
class Stage:
    """A job kind: what it is called, its config model, its work, and the optional hooks the job engine calls on
    every stage alike (each has a default, so the engine never probes a stage for what it defines).

    - ``preflight(config) -> list[Issue]``: checks before it is queued (errors refuse the job); default none.
    - ``is_heavy(config) -> bool``: whether this run takes the machine (training, conversion); default ``heavy``.
    - ``estimate(config) -> Estimate | None``: time and peak memory (jobs/estimates.py); default none.
    - ``needs(config) -> Needs | None``: CPUs, GPUs and memory on a cluster (jobs/needs.py); default: the engine's
      rule (a CPU for a heavy job, a quarter of one otherwise)."""

    kind: str
    title: str
    config: type[StageConfig]
    run: Callable[[Any, Reporter], dict]
    heavy: bool = False
    resumable: bool = False
    preflight: Callable[[Any], list[Issue]] = _no_issues
    is_heavy: Callable[[Any], bool] | None = None
    estimate: Callable[[Any], Any] = _nothing
    needs: Callable[[Any], Any] = _nothing

    def heavy_for(self, config: Any) -> bool:
        return self.is_heavy(config) if self.is_heavy is not None else self.heavy
