"""Fine-tuning settings: one pydantic model with help on every field, and presets for non-specialists."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ..stage_api import StageConfig
from ..students import StudentChoice
from ..studies import TrialRef

Method = Literal["lora", "dora", "full", "qlora"]
METHOD_LABELS = {
    "lora": "LoRA — small adapter layers (recommended)",
    "dora": "DoRA — LoRA with weight decomposition (often a little better, a little slower)",
    "full": "Full fine-tuning — every weight (most memory)",
    "qlora": "QLoRA — LoRA on a 4-bit base (needs an NVIDIA GPU)",
}


class FinetuneConfig(StageConfig):
    """Train the student on a dataset's prompt/response pairs (loss on the responses only)."""

    dataset_id: int = Field(
        title="Training data", description="Training data: its train part, and its validation part for evaluation."
    )
    student: StudentChoice = Field(title="Student", description="The model to fine-tune.")
    project_id: int | None = Field(None, title="Project", description="Project the new model belongs to.")
    method: Method = Field(
        "lora",
        title="Method",
        description="How to train: LoRA (small adapters, recommended), DoRA, full or QLoRA (GPU only).",
    )
    learning_rate: float = Field(
        2e-4,
        gt=0,
        le=1,
        title="Learning rate",
        description="Step size; LoRA likes ~2e-4, full fine-tuning ~2e-5.",
        json_schema_extra={"step": 1e-5},
    )
    epochs: float = Field(
        2.0,
        gt=0,
        le=100,
        title="Passes over the data (epochs)",
        description="Passes over the training data (ignored when max steps is set).",
        json_schema_extra={"step": 0.5},
    )
    max_steps: int = Field(
        0,
        ge=0,
        le=1_000_000,
        title="Stop after this many steps (0 = use the passes)",
        description="Stop after this many optimizer steps (0 = use epochs).",
        json_schema_extra={"step": 10},
    )
    batch_size: int = Field(
        8,
        ge=1,
        le=1024,
        title="Examples per step (batch size)",
        description="Examples per step on the device; lower it when memory runs out.",
    )
    grad_accum: int = Field(
        1,
        ge=1,
        le=1024,
        title="Steps per update (gradient accumulation)",
        description="Steps accumulated before each update (a larger effective batch without more memory).",
    )
    max_length: int = Field(
        512,
        ge=16,
        le=131_072,
        title="Longest example (tokens)",
        description="Longest example in tokens; longer ones are cut.",
        json_schema_extra={"step": 64},
    )
    lora_r: int = Field(
        16,
        ge=1,
        le=1024,
        title="Adapter rank",
        description="Adapter rank: capacity of the adapter (8–64 typical).",
        json_schema_extra={"step": 4},
    )
    lora_alpha: int = Field(
        32,
        ge=1,
        le=4096,
        title="Adapter scaling (alpha)",
        description="Adapter scaling; usually twice the rank.",
        json_schema_extra={"step": 8},
    )
    lora_dropout: float = Field(
        0.05,
        ge=0,
        lt=1,
        title="Adapter dropout",
        description="Dropout inside the adapter, against overfitting.",
        json_schema_extra={"step": 0.01},
    )
    target_modules: str = Field(
        "all-linear",
        title="Layers that get adapters",
        description="Layers that get adapters: 'all-linear' or a comma-separated list such as 'q_proj,v_proj'.",
    )
    warmup_ratio: float = Field(
        0.05,
        ge=0,
        lt=1,
        title="Warm-up share",
        description="Share of steps spent ramping the learning rate up.",
        json_schema_extra={"step": 0.01},
    )
    weight_decay: float = Field(
        0.0,
        ge=0,
        le=1,
        title="Weight decay",
        description="Pull on weights towards zero, against overfitting.",
        json_schema_extra={"step": 0.01},
    )
    # The default first: a list of these choices opens on it.
    scheduler: Literal["cosine", "linear", "constant", "constant_with_warmup"] = Field(
        "cosine", title="Learning-rate schedule", description="How the learning rate changes over training."
    )
    # numpy's seed takes 0 to 2**32 - 1; the page has always offered 0 to 2**31 - 1.
    seed: int = Field(42, ge=0, le=2**31 - 1, title="Seed", description="Same seed, same run.")
    eval_steps: int = Field(
        20,
        ge=1,
        le=1_000_000,
        title="Measure validation loss every N steps",
        description="Evaluate on the validation part every N steps.",
        json_schema_extra={"step": 5},
    )
    early_stopping_patience: int = Field(
        0,
        ge=0,
        le=100,
        title="Stop early after N checks without progress (0 = off)",
        description="Stop when validation loss has not improved for N evaluations (0 = off).",
    )
    save_steps: int = Field(
        20,
        ge=1,
        le=1_000_000,
        title="Keep a checkpoint every N steps",
        description="Keep a checkpoint every N steps (a crash resumes from the last one).",
        json_schema_extra={"step": 5},
    )
    logging_steps: int = Field(
        1,
        ge=1,
        le=10_000,
        title="Record the curves every N steps",
        description="Record loss and learning rate every N steps.",
    )
    kd: bool = Field(
        False,
        title="Also learn the teacher's word probabilities (logit distillation)",
        description="Logit distillation: also match a local teacher's token probabilities.",
    )
    kd_teacher_path: str | None = Field(
        None, title="Teacher folder", description="Folder of the local teacher (same tokenizer as the student)."
    )
    kd_temperature: float = Field(
        2.0,
        gt=0,
        le=20,
        title="Temperature",
        description="Softens both distributions before comparing them.",
        json_schema_extra={"step": 0.5},
    )
    kd_alpha: float = Field(
        0.5,
        ge=0,
        le=1,
        title="Weight of the teacher's probabilities",
        description="Weight of the distillation loss (the rest is cross-entropy).",
        json_schema_extra={"step": 0.05},
    )
    precision: Literal["auto", "fp32", "bf16"] = Field(
        "auto",
        title="Number format",
        description="Number format: auto uses bf16 where the GPU or CPU supports it (faster), else fp32.",
    )
    adapter_name: str = Field(
        "default",
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        title="Adapter name",
        description="Name of the adapter (several adapters can share one base).",
    )
    output_name: str | None = Field(
        None, max_length=200, title="Name of the new model", description="Name of the new model."
    )
    search_trial: TrialRef | None = Field(
        None,
        title="Search trial",
        description="Set by a search: the trial this run reports its validation loss to, and may be pruned by.",
    )

    @model_validator(mode="after")
    def _check(self) -> FinetuneConfig:
        if self.kd and not self.kd_teacher_path:
            raise ValueError("logit distillation needs kd_teacher_path (a local teacher folder)")
        return self

    @property
    def uses_adapter(self) -> bool:
        return self.method in ("lora", "dora", "qlora")


# The settings an operator sets one by one: each is a `slmops finetune` option and part of the command that
# reproduces a run. The others come from the command's own inputs (data, student, project), are implied (kd: a
# teacher folder turns it on) or are set by a search.
SETTINGS: tuple[str, ...] = tuple(
    n for n in FinetuneConfig.model_fields if n not in ("dataset_id", "student", "project_id", "kd", "search_trial")
)

PRESETS: dict[str, dict] = {
    # Measured on the offline demo (240 teacher answers, SmolLM2-135M, 2 cores): three passes at 1e-3 take the
    # student's route accuracy from 2.5% to 87.5% in about 2.5 minutes; one pass at 3e-4 left it at 2.5%.
    "quick": {"epochs": 3.0, "learning_rate": 1e-3, "lora_r": 16, "lora_alpha": 32, "eval_steps": 10, "save_steps": 10},
    "balanced": {
        "epochs": 2.0,
        "learning_rate": 2e-4,
        "lora_r": 16,
        "lora_alpha": 32,
        "eval_steps": 20,
        "save_steps": 20,
    },
    "thorough": {
        "epochs": 4.0,
        "learning_rate": 1e-4,
        "lora_r": 32,
        "lora_alpha": 64,
        "eval_steps": 25,
        "save_steps": 25,
        "early_stopping_patience": 3,
    },
}
DEFAULT_PRESET = "balanced"  # what the page starts on and the command line uses when none is named
PRESET_LABELS = {
    "quick": "Quick — three fast passes: minutes for a few hundred examples",
    "balanced": "Balanced — two passes (recommended)",
    "thorough": "Thorough — four passes, stops early when it stops improving",
}


def apply_preset(name: str, **overrides) -> dict:
    """Preset values, with full fine-tuning's smaller learning rate, then the operator's overrides."""
    values = dict(PRESETS[name])
    if overrides.get("method") == "full":
        values["learning_rate"] = values["learning_rate"] / 10
    return {**values, **overrides}
