"""The evaluation's result as typed models: what `evaluate()` builds, `runs/<job>/evaluation.json` stores (as
``model_dump(mode="json")``) and `load_evaluation()` reads back for the page, the charts, the report, the model
card and the command line.

Results are read back long after they were written, so every model ignores keys it does not know (a later version
may add some) and every field a result can lack has a default. Shares are fractions (0–1); the judge score is 1–10;
None where a metric does not apply or was not measured.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

# A variant's reference in an evaluation: 'teacher', a model variant's id (12), one adapter of a multi-adapter
# model ('12:adapter') or a running deployment ('deployment:3').
VariantRef = int | str


class _Stored(BaseModel):
    model_config = ConfigDict(extra="ignore")


class SampleResult(_Stored):
    """One variant's answer to one held-out row, scored."""

    row: int = Field(description="The row's index in the evaluated part of the dataset.")
    prompt: str = Field(description="The question the variant was asked.")
    reference: str = Field(description="The dataset's answer to it.")
    label: str | None = Field(None, description="The row's label, for a labelled task.")
    answer: str | None = Field(None, description="The variant's answer; None when it failed or was not asked.")
    predicted_label: str | None = Field(None, description="The label the answer names, if any.")
    correct: bool | None = Field(None, description="Whether the answer names the row's label (labelled tasks only).")
    rouge_l: float | None = Field(None, description="ROUGE-L of the answer against the reference (0–1).")
    latency_ms: float | None = Field(None, description="Time to the whole answer.")
    ttft_ms: float | None = Field(None, description="Time to the first token, where it was measured.")
    tokens: int | None = Field(None, description="Tokens in the answer.")
    prompt_tokens: int | None = Field(None, description="Tokens in the prompt (what an endpoint charges for).")
    timed: bool | None = Field(None, description="Answered alone (not in a batch): its latency is a user's latency.")
    judge_score: float | None = Field(None, description="The LLM judge's score, 1–10.")
    judge_reason: str | None = Field(None, description="The judge's one-line reason.")
    judge_error: str | None = Field(None, description="Why the judge could not score this answer.")
    error: str | None = Field(None, description="Why the variant gave no answer.")

    # What only the metrics need, from the stored answer (the reference's likelihood, the process's peak memory):
    # private, so it never reaches the stored JSON.
    _nll: float | None = PrivateAttr(None)
    _ref_tokens: int | None = PrivateAttr(None)
    _peak_rss: int | None = PrivateAttr(None)


class VariantMetrics(_Stored):
    """A variant's numbers over every row it answered. A failed variant has none."""

    rouge_l: float | None = Field(None, description="Mean ROUGE-L against the references (0–1).")
    bleu: float | None = Field(None, description="Corpus BLEU (0–1).")
    chrf: float | None = Field(None, description="Corpus chrF (0–1).")
    exact_match: float | None = Field(None, description="Share of answers equal to the reference (0–1).")
    token_f1: float | None = Field(None, description="Mean token-overlap F1 with the reference (0–1).")
    label_accuracy: float | None = Field(None, description="Share of labelled rows answered with the right label.")
    perplexity: float | None = Field(None, description="Of the reference answers; None for endpoints.")
    judge_score: float | None = Field(None, description="The judge's mean score (1–10), failures left out.")
    judge_failed: int | None = Field(None, description="Answers the judge could not score; None without a judge.")
    latency_p50_ms: float | None = Field(None, description="Median latency of the timed answers.")
    latency_p95_ms: float | None = Field(None, description="95th-percentile latency of the timed answers.")
    ttft_ms: float | None = Field(None, description="Median time to the first token.")
    tokens_per_s: float | None = Field(None, description="Generation speed after the first token.")
    peak_rss_bytes: int | None = Field(None, description="Peak memory of the process that answered.")
    size_bytes: int | None = Field(None, description="The model's size on disk.")
    cost_per_1k_answers: float | None = Field(None, description="A priced endpoint's cost of 1,000 answers.")
    answered: int | None = Field(None, description="Rows answered.")
    failed: int | None = Field(None, description="Rows that got no answer.")

    def value(self, name: str) -> float | None:
        """The metric called ``name`` (a name chosen at run time, e.g. a chart's); None if unknown or not measured."""
        if name not in type(self).model_fields:
            return None
        found = getattr(self, name)
        return found if isinstance(found, (int, float)) and not isinstance(found, bool) else None


class VariantResult(_Stored):
    """One compared variant: what it is, whether it answered, its numbers and its answers."""

    id: VariantRef = Field(description="Its reference: 'teacher', 12, '12:adapter' or 'deployment:3'.")
    name: str = Field(description="Its name (the reference itself when it could not be resolved).")
    kind: str = Field("", description="teacher, base, finetune, onnx, adapter or deployment; empty when unresolved.")
    runtime: str = Field("", description="transformers, onnxruntime-genai or endpoint; empty when unresolved.")
    precision: str | None = Field("", description="The weights' precision (e.g. int4), where known.")
    variant_id: int | None = Field(None, description="The model variant's database id, where it has one.")
    parent_id: int | None = Field(None, description="The model variant it was made from, where recorded.")
    status: Literal["ok", "failed"] = Field(description="'failed': it could not be evaluated (see error).")
    error: str | None = Field(None, description="Why it failed.")
    metrics: VariantMetrics = Field(default_factory=VariantMetrics, description="Its numbers (none when failed).")
    samples: list[SampleResult] = Field(default_factory=list, description="Its answer to every row, in row order.")

    @field_validator("metrics", mode="before")
    @classmethod
    def _no_metrics(cls, value):
        return {} if value is None else value  # a failed variant may carry no metrics at all

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def is_teacher(self) -> bool:
        return self.id == "teacher" or self.kind == "teacher"

    @property
    def display_name(self) -> str:
        return self.name or str(self.id)

    def metric(self, name: str) -> float | None:
        return self.metrics.value(name)

    def is_ref(self, ref: VariantRef | None) -> bool:
        """Whether this is the variant ``ref`` names (12 and '12' alike: ids come back from JSON and from widgets)."""
        return ref is not None and str(self.id) == str(ref)


class Recommendation(_Stored):
    """The variant to ship: the smallest student within the tolerance of the best student's quality."""

    id: VariantRef = Field(description="Its reference in the evaluation.")
    name: str = Field(description="Its name.")
    variant_id: int | None = Field(None, description="Its model variant's database id, where it has one.")
    deployable: bool = Field(False, description="Whether Foundry Local can serve it as it is (an ONNX model).")
    sentence: str = Field(description="The recommendation in plain words.")


class Headline(_Stored):
    """The chosen student against the teacher, in the seed's terms."""

    sentence: str = Field(description="E.g. 'X keeps 91% of the teacher's accuracy, answers 6.0× faster ...'.")
    student_id: VariantRef = Field(description="The student's reference in the evaluation.")
    quality_kept: float | None = Field(None, description="The student's main measure over the teacher's.")
    speedup: float | None = Field(None, description="The teacher's median latency over the student's.")
    memory_ratio: float | None = Field(None, description="The student's peak memory over the teacher's.")
    size_ratio: float | None = Field(None, description="The student's size over the teacher's.")


class EvaluationResult(_Stored):
    """Every variant's answers to the same held-out rows, compared."""

    job_id: int | None = Field(None, description="The evaluation job; None when run in-process.")
    project_id: int | None = Field(None, description="The project whose teacher was 'teacher'.")
    dataset_id: int = Field(description="The dataset whose held-out rows every variant answered.")
    split: str = Field("test", description="The part of the dataset evaluated on.")
    rows: int = Field(description="How many rows every variant answered.")
    labels: list[str] = Field(default_factory=list, description="The task's labels; empty for a free-text task.")
    primary_metric: str = Field("rouge_l", description="The main measure: label_accuracy with labels, else rouge_l.")
    variants: list[VariantResult] = Field(default_factory=list, description="In the order they were asked for.")
    pareto: list[VariantRef] = Field(default_factory=list, description="The variants on the quality-vs-size front.")
    pareto_latency: list[VariantRef] = Field(
        default_factory=list, description="The variants on the quality-vs-latency front."
    )
    recommendation: Recommendation | None = Field(None, description="The variant to ship; None without students.")
    headline: Headline | None = Field(None, description="The chosen student against the teacher, where both answered.")

    @property
    def ok_variants(self) -> list[VariantResult]:
        """The variants that answered (a failed one has no numbers to compare)."""
        return [v for v in self.variants if v.ok]

    def variant(self, ref: VariantRef | None) -> VariantResult | None:
        return next((v for v in self.variants if v.is_ref(ref)), None)


__all__ = ["EvaluationResult", "Headline", "Recommendation", "SampleResult", "VariantMetrics", "VariantResult"]
