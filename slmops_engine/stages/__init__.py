"""Stage registry: job kind -> the module that registers its ``STAGE`` (a stage_api.Stage: name, config model,
work and hooks). Imported only by the job engine and the command line.

Extra stages can be plugged in with SLMOPS_STAGE_PLUGINS (comma-separated modules, each with a ``STAGES`` dict of
kind -> module path)."""

from __future__ import annotations

import importlib
import os

from ..errors import ConfigError
from ..stage_api import Stage

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


def get_stage(kind: str) -> Stage:
    path = stage_paths().get(kind)
    if path is None:
        raise ConfigError(f"Unknown job kind '{kind}'", f"Known kinds: {', '.join(sorted(stage_paths()))}.")
    stage = importlib.import_module(path).STAGE
    assert stage.kind == kind, f"{path} registers {stage.kind!r} under {kind!r}"
    return stage
