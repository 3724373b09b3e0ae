"""Settings of an evaluation run (the `evaluate` job's config) and the names of what it compares."""

from __future__ import annotations

from pydantic import Field, field_validator

from ..stage_api import StageConfig

TEACHER = "teacher"


class EvalConfig(StageConfig):
    """Every chosen variant answers the same held-out prompts; the answers are scored and compared."""

    variants: list[str] = Field(
        min_length=1,
        max_length=32,
        description=(
            "What to compare: 'teacher', a model variant id ('12'), one adapter of a multi-adapter ONNX model "
            "('12:support'), or a running deployment ('deployment:3')."
        ),
    )
    dataset_id: int = Field(description="The dataset whose held-out rows every variant answers.")
    project_id: int | None = Field(None, description="The project whose teacher 'teacher' means.")
    split: str = Field("test", description="The part to evaluate on (the held-out test part by default).")
    limit: int | None = Field(None, ge=1, le=100_000, description="Evaluate at most this many rows (quick looks).")
    max_new_tokens: int | None = Field(
        None,
        ge=1,
        le=4096,
        description="Longest answer in tokens; empty = sized from the reference answers (a label needs a few).",
    )
    batch_size: int = Field(8, ge=1, le=256, description="Prompts answered together by a model on this machine.")
    concurrency: int = Field(8, ge=1, le=64, description="Requests in flight at once to an endpoint.")
    timed_rows: int = Field(
        8,
        ge=0,
        le=1000,
        description="Rows answered one at a time first, to measure latency and time to first token as a user meets "
        "them; the rest are answered in batches, for speed.",
    )
    judge: bool = Field(False, description="Ask the teacher to score every answer 1–10 with a one-line reason.")
    price_input_per_1k: float = Field(0.0, ge=0, description="Teacher price per 1,000 prompt tokens (for the cost).")
    price_output_per_1k: float = Field(0.0, ge=0, description="Teacher price per 1,000 answer tokens (for the cost).")
    quality_tolerance: float = Field(
        0.03,
        ge=0,
        le=1,
        description="The recommendation picks the smallest model within this share of the best student's quality.",
    )

    @field_validator("variants", mode="before")
    @classmethod
    def _ids_as_text(cls, refs):
        """A variant id may come as a number (a pipeline passes what a stage produced)."""
        return [str(r) if isinstance(r, int) else r for r in refs] if isinstance(refs, list) else refs

    @field_validator("variants")
    @classmethod
    def _refs(cls, refs: list[str]) -> list[str]:
        out: list[str] = []
        for raw in refs:
            ref = raw.strip()
            head, _, tail = ref.partition(":")
            ok = (
                ref == TEACHER
                or (head.isdigit() and (not tail or tail.strip() != ""))
                or (head == "deployment" and tail.isdigit())
            )
            if not ok:
                raise ValueError(f"'{raw}' is not a variant: use teacher, ID, ID:ADAPTER or deployment:ID")
            if ref not in out:
                out.append(ref)
        return out

    @field_validator("split")
    @classmethod
    def _split(cls, v: str) -> str:
        if v not in ("train", "validation", "test"):
            raise ValueError("split must be train, validation or test")
        return v
