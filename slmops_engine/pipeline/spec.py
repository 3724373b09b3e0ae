"""A pipeline file (YAML): the stages in order, each an ordinary job kind with its settings; a setting written
``${STEP.KEY}`` takes the value KEY of what the step named STEP produced (its job's result), e.g.
``dataset_id: ${distil.dataset_id}``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from ..errors import ConfigError
from ..stage_api import StageConfig

REF = re.compile(r"^\$\{([A-Za-z0-9_-]+)\.([A-Za-z0-9_]+)\}$")


class PipelineStep(StageConfig):
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,40}$", description="The step's name; later steps refer to it.")
    kind: str = Field(
        description="A job kind (synth, finetune, convert, evaluate ...), or review (keep the unflagged answers) or "
        "deploy, which run within the pipeline's own job."
    )
    config: dict[str, Any] = Field(default_factory=dict, description="The job's settings (references allowed).")


class PipelineConfig(StageConfig):
    """Run stages one after another as ordinary jobs (each visible on its own page); a retry resumes at the
    first stage that did not finish."""

    name: str = Field("pipeline", max_length=80, description="What this chain is called.")
    project_id: int | None = Field(None, description="The project every stage belongs to.")
    steps: list[PipelineStep] = Field(min_length=1, max_length=20, description="The stages, in order.")
    out: str | None = Field(None, description="Write the last evaluation's JSON here when the chain ends.")

    @field_validator("steps")
    @classmethod
    def _refs_point_back(cls, steps: list[PipelineStep]) -> list[PipelineStep]:
        seen: set[str] = set()
        for step in steps:
            for ref in _refs(step.config):
                if ref not in seen:
                    raise ValueError(f"step '{step.name}' refers to '{ref}', which does not run before it")
            if step.name in seen:
                raise ValueError(f"two steps are named '{step.name}'")
            seen.add(step.name)
        return steps

    @model_validator(mode="after")
    def _known_kinds(self) -> PipelineConfig:
        from ..stage_api import stage_paths
        from .inline_steps import INLINE_STEPS

        known = set(stage_paths()) | set(INLINE_STEPS)
        bad = [s.kind for s in self.steps if s.kind not in known]
        if bad:
            raise ValueError(f"unknown stage kind(s) {bad}: use one of {sorted(known)}")
        return self


def _refs(value: Any) -> list[str]:
    if isinstance(value, str):
        m = REF.match(value)
        return [m.group(1)] if m else []
    if isinstance(value, dict):
        return [r for v in value.values() for r in _refs(v)]
    if isinstance(value, list):
        return [r for v in value for r in _refs(v)]
    return []


def resolve(value: Any, results: dict[str, dict]) -> Any:
    """The settings with every ``${STEP.KEY}`` replaced by that step's result."""
    if isinstance(value, str):
        m = REF.match(value)
        if not m:
            return value
        step, key = m.groups()
        if key not in results.get(step, {}):
            raise ConfigError(f"Step '{step}' produced no '{key}'", f"It produced: {', '.join(results.get(step, {}))}.")
        return results[step][key]
    if isinstance(value, dict):
        return {k: resolve(v, results) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, results) for v in value]
    return value


def load(path: Path) -> PipelineConfig:
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"Cannot read the pipeline file {path}", str(exc)[:300]) from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} is not a pipeline", "It needs 'steps:' with a list of stages.")
    return PipelineConfig.model_validate(data)


def dump(cfg: PipelineConfig) -> str:
    """The file that runs this chain again: `slmops pipeline run FILE`."""
    import yaml

    header = "# SLMOps Studio pipeline: run it again with `slmops pipeline run THIS_FILE --wait`\n"
    return header + yaml.safe_dump(cfg.model_dump(mode="json", exclude_none=True), sort_keys=False)
