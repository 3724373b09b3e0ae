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

    dataset_id: int = Field(description="Training data: its train part, and its validation part for evaluation.")
    student: StudentChoice = Field(description="The model to fine-tune.")
    project_id: int | None = Field(None, description="Project the new model belongs to.")
    method: Method = Field(
        "lora", description="How to train: LoRA (small adapters, recommended), DoRA, full or QLoRA (GPU only)."
    )
    learning_rate: float = Field(2e-4, gt=0, le=1, description="Step size; LoRA likes ~2e-4, full fine-tuning ~2e-5.")
    epochs: float = Field(
        2.0, gt=0, le=100, description="Passes over the training data (ignored when max steps is set)."
    )
    max_steps: int = Field(0, ge=0, le=1_000_000, description="Stop after this many optimizer steps (0 = use epochs).")
    batch_size: int = Field(
        8, ge=1, le=1024, description="Examples per step on the device; lower it when memory runs out."
    )
    grad_accum: int = Field(
        1,
        ge=1,
        le=1024,
        description="Steps accumulated before each update (a larger effective batch without more memory).",
    )
    max_length: int = Field(512, ge=16, le=131_072, description="Longest example in tokens; longer ones are cut.")
    lora_r: int = Field(16, ge=1, le=1024, description="Adapter rank: capacity of the adapter (8–64 typical).")
    lora_alpha: int = Field(32, ge=1, le=4096, description="Adapter scaling; usually twice the rank.")
    lora_dropout: float = Field(0.05, ge=0, lt=1, description="Dropout inside the adapter, against overfitting.")
    target_modules: str = Field(
        "all-linear",
        description="Layers that get adapters: 'all-linear' or a comma-separated list such as 'q_proj,v_proj'.",
    )
    warmup_ratio: float = Field(0.05, ge=0, lt=1, description="Share of steps spent ramping the learning rate up.")
    weight_decay: float = Field(0.0, ge=0, le=1, description="Pull on weights towards zero, against overfitting.")
    scheduler: Literal["linear", "cosine", "constant", "constant_with_warmup"] = Field(
        "cosine", description="How the learning rate changes over training."
    )
    seed: int = Field(42, description="Same seed, same run.")
    eval_steps: int = Field(20, ge=1, le=1_000_000, description="Evaluate on the validation part every N steps.")
    early_stopping_patience: int = Field(
        0, ge=0, le=100, description="Stop when validation loss has not improved for N evaluations (0 = off)."
    )
    save_steps: int = Field(
        20, ge=1, le=1_000_000, description="Keep a checkpoint every N steps (a crash resumes from the last one)."
    )
    logging_steps: int = Field(1, ge=1, le=10_000, description="Record loss and learning rate every N steps.")
    kd: bool = Field(False, description="Logit distillation: also match a local teacher's token probabilities.")
    kd_teacher_path: str | None = Field(
        None, description="Folder of the local teacher (same tokenizer as the student)."
    )
    kd_temperature: float = Field(2.0, gt=0, le=20, description="Softens both distributions before comparing them.")
    kd_alpha: float = Field(0.5, ge=0, le=1, description="Weight of the distillation loss (the rest is cross-entropy).")
    precision: Literal["auto", "fp32", "bf16"] = Field(
        "auto", description="Number format: auto uses bf16 where the GPU or CPU supports it (faster), else fp32."
    )
    adapter_name: str = Field(
        "default",
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="Name of the adapter (several adapters can share one base).",
    )
    output_name: str | None = Field(None, max_length=200, description="Name of the new model.")
    search_trial: TrialRef | None = Field(
        None, description="Set by a search: the trial this run reports its validation loss to, and may be pruned by."
    )

    @model_validator(mode="after")
    def _check(self) -> FinetuneConfig:
        if self.kd and not self.kd_teacher_path:
            raise ValueError("logit distillation needs kd_teacher_path (a local teacher folder)")
        return self

    @property
    def uses_adapter(self) -> bool:
        return self.method in ("lora", "dora", "qlora")


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
