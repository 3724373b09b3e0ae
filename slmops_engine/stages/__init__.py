"""Stage registry: job kind -> the module that registers its ``STAGE`` (a stage_api.Stage: name, config model,
work and hooks). Imported only by the job engine and the command line.

Extra stages can be plugged in with SLMOPS_STAGE_PLUGINS (comma-separated modules, each with a ``STAGES`` dict of
kind -> module path)."""

from __future__ import annotations

import importlib

from ..errors import ConfigError
from ..stage_api import BUILTIN_STAGES, Stage, stage_paths

__all__ = ["BUILTIN_STAGES", "get_stage", "stage_paths"]


def get_stage(kind: str) -> Stage:
    path = stage_paths().get(kind)
    if path is None:
        raise ConfigError(f"Unknown job kind '{kind}'", f"Known kinds: {', '.join(sorted(stage_paths()))}.")
    stage = importlib.import_module(path).STAGE
    assert stage.kind == kind, f"{path} registers {stage.kind!r} under {kind!r}"
    return stage
