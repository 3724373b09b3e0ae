"""Settings of a teacher-answering run (the `synth` job's config)."""

from __future__ import annotations

from pydantic import Field, model_validator

from ..stage_api import StageConfig
from ..teachers import TeacherConfig


class SynthConfig(StageConfig):
    """The teacher writes answers for a dataset's prompts."""

    dataset_id: int = Field(description="The dataset whose prompts the teacher answers.")
    teacher: TeacherConfig = Field(description="The teacher endpoint or local model (never the key itself).")
    project_id: int | None = Field(None, description="Project the new dataset belongs to.")
    splits: list[str] = Field(
        ["train", "validation"],
        min_length=1,
        description="Parts to answer; other parts (the test part) are copied unchanged.",
    )
    temperature: float = Field(0.2, ge=0, le=2, description="Higher is more varied, lower is more consistent.")
    max_tokens: int | None = Field(
        None,
        ge=1,
        le=32_768,
        description="Longest answer, in tokens; longer answers are cut off. Empty: sized from the task (the longest "
        "label, or the longest example answer with room to spare; 256 when the data has no answers).",
    )
    answers_per_prompt: int = Field(1, ge=1, le=8, description="Several answers per prompt give varied examples.")
    reasoning: bool = Field(
        False, description="Ask the teacher to think step by step before answering; the reasoning is kept separately."
    )
    learn_reasoning: bool = Field(False, description="The student learns reasoning + answer (else the answer only).")
    concurrency: int = Field(8, ge=1, le=256, description="Requests in flight at once.")
    requests_per_minute: int = Field(0, ge=0, le=100_000, description="Rate limit of the endpoint; 0 = none.")
    request_timeout: float = Field(60, gt=0, le=3600, description="Seconds to wait for one answer.")
    max_retries: int = Field(6, ge=0, le=20, description="Retries of a failed request (429, 5xx, timeouts).")
    price_input_per_1k: float = Field(0.0, ge=0, description="Price per 1,000 prompt tokens, to show the cost.")
    price_output_per_1k: float = Field(0.0, ge=0, description="Price per 1,000 answer tokens, to show the cost.")
    min_success_ratio: float = Field(
        0.9, ge=0, le=1, description="Fail the job when fewer answers than this share arrive."
    )
    max_prompts: int | None = Field(None, ge=1, description="Answer at most this many prompts (quick trials).")
    batch_size: int = Field(8, ge=1, le=256, description="Prompts per batch for a teacher on this machine.")
    output_name: str | None = Field(None, max_length=200, description="Name of the new dataset.")

    @model_validator(mode="after")
    def _check(self) -> SynthConfig:
        bad = [s for s in self.splits if s not in ("train", "validation", "test")]
        if bad:
            raise ValueError(f"unknown split(s) {bad}: use train, validation or test")
        if self.learn_reasoning and not self.reasoning:
            raise ValueError("learn_reasoning needs reasoning")
        return self
