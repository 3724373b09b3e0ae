"""What a search varies, for how long, and what it optimises."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from ..finetune.config import FinetuneConfig
from ..stage_api import StageConfig
from ..students import StudentChoice
from ..studies import TrialRef

Objective = Literal["eval_loss", "eval_accuracy"]
OBJECTIVES = {
    "eval_loss": "Validation loss (lower is better)",
    "eval_accuracy": "Label accuracy on the validation part (higher is better)",
}

# A search space: a name of the fine-tuning settings → a list of choices, or a range {"low", "high", "log"}.
SPACES: dict[str, dict[str, Any]] = {
    # The settings that move a small model most, in a few trials.
    "quick": {
        "learning_rate": {"low": 1e-4, "high": 3e-3, "log": True},
        "lora_r": [8, 16, 32],
    },
    # The seed's search space: learning rate, LoRA rank and scaling, passes and batch size.
    "thorough": {
        "learning_rate": {"low": 5e-5, "high": 5e-3, "log": True},
        "lora_r": [4, 8, 16, 32, 64],
        "lora_alpha": [8, 16, 32, 64, 128],
        "epochs": [1.0, 2.0, 3.0, 4.0],
        "batch_size": [4, 8, 16],
    },
}
SPACE_LABELS = {
    "quick": "Quick — learning rate and LoRA rank",
    "thorough": "Thorough — learning rate, LoRA rank and alpha, passes, batch size",
}
SEARCHABLE = {"learning_rate", "lora_r", "lora_alpha", "lora_dropout", "epochs", "batch_size", "warmup_ratio"}


class SweepConfig(StageConfig):
    """A search over fine-tuning settings: every trial trains the student with one setting, as its own job."""

    dataset_id: int = Field(
        title="Training data",
        description="Training data: its train part, and its validation part to judge each trial.",
    )
    student: StudentChoice = Field(title="Student", description="The model every trial fine-tunes.")
    project_id: int | None = Field(None, title="Project", description="Project the trials' models belong to.")
    space: Literal["quick", "thorough"] | dict[str, Any] = Field(
        "quick",
        title="What to vary",
        description="What to vary: a preset, or {setting: [choices] or {low, high, log}}.",
    )
    trials: int = Field(6, ge=1, le=500, title="Trials", description="How many settings to try.")
    time_limit_minutes: float = Field(
        0,
        ge=0,
        le=7 * 24 * 60,
        title="Time limit (minutes)",
        description="Stop starting trials after this (0: none).",
        json_schema_extra={"step": 1},
    )
    objective: Objective = Field("eval_loss", title="Best means", description="What makes a setting the best.")
    base: dict[str, Any] = Field(
        default_factory=dict,
        title="Shared settings",
        description="Fine-tuning settings every trial shares (method, steps, precision …).",
    )
    parallel: int = Field(
        0,
        ge=0,
        le=64,
        title="Trials at once",
        description="Trials run at once (0: one on this machine, as many as heavy jobs on Ray).",
    )
    prune: bool = Field(
        True,
        title="Stop the clearly worse trials early",
        description="Stop trials early whose validation loss is clearly worse than the others'.",
    )
    seed: int = Field(42, title="Seed", description="Same seed, same sequence of settings tried.")

    @model_validator(mode="after")
    def _valid_space(self) -> SweepConfig:
        space = self.space_values()
        if not space:
            raise ValueError("the search space is empty: name at least one setting to vary")
        unknown = set(space) - SEARCHABLE
        if unknown:
            known = ", ".join(sorted(SEARCHABLE))
            raise ValueError(f"cannot search over {', '.join(sorted(unknown))}; choose from {known}")
        for name, spec in space.items():
            if isinstance(spec, dict) and not {"low", "high"} <= set(spec):
                raise ValueError(f"the range for {name} needs low and high")
            if isinstance(spec, list) and not spec:
                raise ValueError(f"{name} has no choices")
        self.trial_config(self.first_setting())  # validates the shared settings
        return self

    def first_setting(self) -> dict[str, Any]:
        """A setting the search can try: each list's first choice, each range's low end."""
        return {k: (v[0] if isinstance(v, list) else v["low"]) for k, v in self.space_values().items()}

    def space_values(self) -> dict[str, Any]:
        return SPACES[self.space] if isinstance(self.space, str) else dict(self.space)

    def trial_config(
        self, params: dict[str, Any], name: str | None = None, ref: TrialRef | None = None
    ) -> FinetuneConfig:
        """The fine-tuning settings of one trial: the shared ones, then the trial's own."""
        values = {**self.base, **params}
        if "lora_r" in params and "lora_alpha" not in params and "lora_alpha" not in self.base:
            values["lora_alpha"] = 2 * int(params["lora_r"])  # the usual scaling, unless searched or set
        return FinetuneConfig(
            dataset_id=self.dataset_id,
            student=self.student,
            project_id=self.project_id,
            output_name=name,
            search_trial=ref,
            **values,
        )
