"""From stored answers to the comparison: each variant's metrics, the Pareto fronts, the variant to ship and the
headline in the seed's terms ("keeps 91% of the teacher's accuracy, answers 6× faster, in 4% of the memory")."""

from __future__ import annotations

import math

from ..teaching import predicted_label
from . import metrics as m
from .labels import size as human_size
from .result import Headline, Recommendation, SampleResult, VariantMetrics, VariantRef, VariantResult

QUALITY_METRICS = ("label_accuracy", "rouge_l", "bleu", "chrf", "exact_match", "token_f1")


def sample_view(row: dict, sample, labels: list[str]) -> SampleResult:
    """One held-out row (as load_rows reads it) and the stored answer to it (an EvalSample, or None), scored."""
    asked = {"row": row["row"], "prompt": row["prompt"], "reference": row["reference"], "label": row.get("label")}
    if sample is None:
        return SampleResult(**asked, error="not answered")
    answer = sample.answer if sample.error is None else None
    predicted = predicted_label(answer, labels) if labels and answer is not None else None
    out = SampleResult(
        **asked,
        answer=answer,
        predicted_label=predicted,
        correct=(predicted == row.get("label")) if labels and answer is not None else None,
        rouge_l=round(m.rouge_l(answer, row["reference"]), 4) if answer is not None else None,
        latency_ms=round(sample.latency_ms, 1) if answer is not None else None,
        ttft_ms=round(sample.ttft_ms, 1) if sample.ttft_ms is not None else None,
        tokens=sample.tokens,
        prompt_tokens=sample.prompt_tokens,
        timed=sample.timed,
        judge_score=sample.judge_score,
        judge_reason=sample.judge_reason,
        judge_error=sample.judge_error,
        error=sample.error,
    )
    out._nll, out._ref_tokens, out._peak_rss = sample.nll, sample.ref_tokens, sample.peak_rss
    return out


def _judged(s: SampleResult) -> bool:
    return s.judge_score is not None or bool(s.judge_error)


def _r(x: float | None, digits: int = 4) -> float | None:
    return round(x, digits) if x is not None else None


def variant_metrics(
    samples: list[SampleResult], *, labels: list[str], size_bytes: int | None, prices: tuple
) -> VariantMetrics:
    ok = [s for s in samples if s.answer is not None]
    answers, refs = [s.answer for s in ok], [s.reference for s in ok]
    timed = [s for s in ok if s.timed] or ok
    nll = [(s._nll, s._ref_tokens) for s in ok if s._nll is not None and s._ref_tokens]
    judged = [s.judge_score for s in ok if s.judge_score is not None]
    gen_ms = sum(s.latency_ms - (s.ttft_ms or 0) for s in timed if s.ttft_ms is not None)
    gen_tokens = sum(max(s.tokens - 1, 0) for s in timed if s.ttft_ms is not None)
    if not gen_ms:  # no time to first token measured: whole answers
        gen_ms, gen_tokens = sum(s.latency_ms for s in timed), sum(s.tokens for s in timed)
    peaks = [s._peak_rss for s in ok if s._peak_rss]
    price_in, price_out = prices
    cost = None
    if (price_in or price_out) and ok:
        per_answer = m.mean([s.prompt_tokens * price_in / 1000 + s.tokens * price_out / 1000 for s in ok])
        cost = _r(per_answer * 1000 if per_answer is not None else None)
    labelled = [s for s in ok if s.label]
    return VariantMetrics(
        rouge_l=_r(m.mean([s.rouge_l for s in ok])),
        bleu=_r(m.bleu(answers, refs)) if ok else None,
        chrf=_r(m.chrf(answers, refs)) if ok else None,
        exact_match=_r(m.mean([m.exact_match(a, r) for a, r in zip(answers, refs, strict=True)])),
        token_f1=_r(m.mean([m.token_f1(a, r) for a, r in zip(answers, refs, strict=True)])),
        label_accuracy=_r(m.mean([float(bool(s.correct)) for s in labelled])) if labels else None,
        perplexity=_r(math.exp(sum(a for a, _ in nll) / sum(n for _, n in nll))) if nll else None,
        judge_score=_r(m.mean(judged), 2),
        judge_failed=sum(1 for s in ok if s.judge_error) if any(_judged(s) for s in ok) else None,
        latency_p50_ms=_r(m.percentile([s.latency_ms for s in timed], 50), 1),
        latency_p95_ms=_r(m.percentile([s.latency_ms for s in timed], 95), 1),
        ttft_ms=_r(m.percentile([s.ttft_ms for s in timed if s.ttft_ms is not None], 50), 1),
        tokens_per_s=_r(gen_tokens / (gen_ms / 1000), 1) if gen_ms > 0 and gen_tokens else None,
        peak_rss_bytes=max(peaks) if peaks else None,
        size_bytes=size_bytes,
        cost_per_1k_answers=cost,
        answered=len(ok),
        failed=sum(1 for s in samples if s.error),
    )


def primary_metric(labels: list[str]) -> str:
    return "label_accuracy" if labels else "rouge_l"


def pareto_front(points: list[tuple[VariantRef, float, float]]) -> list[VariantRef]:
    """points: (id, quality — higher is better, cost — lower is better). The ids no other point beats on both."""
    front = []
    for pid, q, c in points:
        dominated = any((q2 >= q and c2 <= c) and (q2 > q or c2 < c) for _, q2, c2 in points)
        if not dominated:
            front.append(pid)
    return front


def _students(variants: list[VariantResult], metric: str) -> list[VariantResult]:
    return [v for v in variants if v.ok and v.kind != "teacher" and v.metric(metric) is not None]


def fronts(variants: list[VariantResult], metric: str) -> tuple[list[VariantRef], list[VariantRef]]:
    ok = [v for v in variants if v.ok and v.metric(metric) is not None]
    by_size = [(v.id, v.metric(metric), v.metrics.size_bytes) for v in ok if v.metrics.size_bytes]
    by_latency = [(v.id, v.metric(metric), v.metrics.latency_p50_ms) for v in ok if v.metrics.latency_p50_ms]
    return pareto_front(by_size), pareto_front(by_latency)


def recommend(variants: list[VariantResult], metric: str, tolerance: float) -> Recommendation | None:
    """The smallest model on the quality-vs-size front within ``tolerance`` of the best student's quality."""
    students = [v for v in _students(variants, metric) if v.metrics.size_bytes]
    if not students:
        return None
    best = max(v.metric(metric) for v in students)
    good = [v for v in students if v.metric(metric) >= best * (1 - tolerance) - 1e-12]
    pick = min(good, key=lambda v: (v.metrics.size_bytes, -v.metric(metric)))
    q = pick.metric(metric)
    label = metric.replace("_", " ")
    why = (
        f"the best {label} of the students ({q:.0%})"
        if q >= best
        else f"{q:.0%} {label}, within {tolerance:.0%} of the best student's {best:.0%}"
    )
    sentence = f"Ship {pick.name}: the smallest model with {why}, at {human_size(pick.metrics.size_bytes)}."
    if pick.kind in ("base", "finetune"):
        sentence += " Convert it to ONNX int4 on the Optimize page to make it smaller and faster."
    return Recommendation(
        id=pick.id,
        name=pick.name,
        variant_id=pick.variant_id,
        deployable=pick.runtime == "onnxruntime-genai" and pick.kind == "onnx",
        sentence=sentence,
    )


def headline(variants: list[VariantResult], metric: str, pick_id: VariantRef | None) -> Headline | None:
    """The chosen student against the teacher, in the seed's terms."""
    teacher = next((v for v in variants if v.kind == "teacher" and v.ok), None)
    student = next((v for v in variants if v.id == pick_id), None)
    if teacher is None or student is None:
        return None
    t, s = teacher.metrics, student.metrics
    tq, sq = teacher.metric(metric), student.metric(metric)
    kept = sq / tq if tq and sq is not None else None
    speedup = t.latency_p50_ms / s.latency_p50_ms if t.latency_p50_ms and s.latency_p50_ms else None
    memory = s.peak_rss_bytes / t.peak_rss_bytes if t.peak_rss_bytes and s.peak_rss_bytes else None
    size = s.size_bytes / t.size_bytes if t.size_bytes and s.size_bytes else None
    what = "accuracy" if metric == "label_accuracy" else "ROUGE-L"
    parts = [f"{student.name} keeps {kept:.0%} of the teacher's {what}" if kept is not None else student.name]
    if speedup is not None:
        parts.append(f"answers {speedup:.1f}× faster" if speedup >= 1 else f"answers {1 / speedup:.1f}× slower")
    if memory is not None:
        parts.append(f"in {memory:.0%} of the memory")
    elif size is not None:
        parts.append(f"at {size:.0%} of the size")
    sentence = ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1] + "."
    return Headline(
        sentence=sentence,
        student_id=student.id,
        quality_kept=_r(kept),
        speedup=_r(speedup, 2),
        memory_ratio=_r(memory),
        size_ratio=_r(size),
    )
