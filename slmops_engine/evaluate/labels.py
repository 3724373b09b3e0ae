"""Names and plain-language formatting of evaluation metrics, shared by the charts, the report and the model card."""

from __future__ import annotations

from typing import Any

from .result import EvaluationResult, VariantResult

# Quality measured as a share (0–1): shown as a percentage.
SHARES = ("label_accuracy", "rouge_l", "token_f1", "exact_match", "bleu", "chrf")
LABELS: dict[str, str] = {
    "label_accuracy": "Label accuracy",
    "rouge_l": "ROUGE-L",
    "token_f1": "Token F1",
    "exact_match": "Exact match",
    "bleu": "BLEU",
    "chrf": "chrF",
    "judge_score": "Judge score (1–10)",
    "judge_failed": "Judge failed",
    "perplexity": "Perplexity",
    "latency_p50_ms": "Latency p50",
    "latency_p95_ms": "Latency p95",
    "ttft_ms": "Time to first token",
    "tokens_per_s": "Tokens/s",
    "peak_rss_bytes": "Peak memory",
    "size_bytes": "Size",
    "cost_per_1k_answers": "Cost / 1k answers",
    "answered": "Answered",
    "failed": "Failed",
}
# The order of the metrics table: quality first, then speed, then cost.
SPEED = ("latency_p50_ms", "latency_p95_ms", "ttft_ms", "tokens_per_s")
COST = ("peak_rss_bytes", "size_bytes", "cost_per_1k_answers", "answered", "failed")
TABLE_ORDER = (*SHARES, "judge_score", "judge_failed", "perplexity", *SPEED, *COST)
TEACHER_COLOR = "#9ca3af"
PALETTE = ("#2563eb", "#16a34a", "#ea580c", "#9333ea", "#0891b2", "#db2777", "#ca8a04", "#4f46e5", "#65a30d")


def label(metric: str) -> str:
    return LABELS.get(metric, metric.replace("_", " "))


def fmt(metric: str, value: Any) -> str:
    """'87.5%', '123 ms', '81.2 MB', '7.4' ... and '—' where the metric does not apply."""
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if metric in SHARES:
        return f"{value * 100:.1f}%"
    if metric.endswith("_ms"):
        return f"{value:,.0f} ms"
    if metric.endswith("_bytes"):
        return size(value)
    if metric == "cost_per_1k_answers":
        return f"${value:,.4f}"
    if metric in ("answered", "failed", "judge_failed"):
        return f"{value:,.0f}"
    return f"{value:,.1f}"


def size(n_bytes: float) -> str:
    """Decimal units, like the charts' MB axis and the recommendation's sentence: 80e6 bytes is '80.0 MB'."""
    return f"{n_bytes / 1e9:,.2f} GB" if n_bytes >= 1e9 else f"{n_bytes / 1e6:,.1f} MB"


def short_name(v: VariantResult) -> str:
    """A name that fits a chart's legend and points: what the variant is, and its id ('ONNX int4 #3')."""
    kind, vid, precision = v.kind, v.id, v.precision or ""
    if kind == "teacher":
        return "Teacher"
    if kind == "base":
        return f"Base student #{vid}"
    if kind == "finetune":
        return f"Fine-tuned #{vid}"
    if kind == "onnx":
        return f"ONNX {precision} #{vid}".replace("  ", " ")
    if kind == "adapter":
        return f"Adapter {str(vid).partition(':')[2]} #{str(vid).partition(':')[0]}"
    if kind == "deployment":
        return f"Deployed {precision} #{str(vid).partition(':')[2]}".replace("  ", " ")
    return v.display_name


def colors(ev: EvaluationResult) -> dict[str, str]:
    """One colour per variant (keyed by str(id)), stable across charts; the teacher is grey."""
    out, i = {}, 0
    for v in ev.variants:
        if v.is_teacher:
            out[str(v.id)] = TEACHER_COLOR
        else:
            out[str(v.id)] = PALETTE[i % len(PALETTE)]
            i += 1
    return out
