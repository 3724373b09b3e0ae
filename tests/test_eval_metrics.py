"""Evaluation metrics against the libraries' own values, label accuracy, the judge's parsing, the Pareto front,
the recommendation and the headline on hand-made examples."""

from __future__ import annotations

import pytest
import sacrebleu
from rouge_score import rouge_scorer

from slmops_engine.evaluate import metrics as m
from slmops_engine.evaluate import summary
from slmops_engine.evaluate.judge import parse_judgement
from slmops_engine.evaluate.result import SampleResult, VariantResult
from slmops_engine.teaching import predicted_label

CANDS = ["The cat sat on the mat.", "Reset your password from the login page", "billing"]
REFS = ["A cat was sitting on the mat.", "You can reset the password on the login page.", "Billing"]


def test_text_metrics_equal_the_libraries_values():
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    for c, r in zip(CANDS, REFS, strict=True):
        assert m.rouge_l(c, r) == pytest.approx(scorer.score(r, c)["rougeL"].fmeasure)
    assert m.bleu(CANDS, REFS) == pytest.approx(
        sacrebleu.corpus_bleu(CANDS, [REFS], use_effective_order=True).score / 100
    )
    assert m.chrf(CANDS, REFS) == pytest.approx(sacrebleu.corpus_chrf(CANDS, [REFS]).score / 100)
    assert 0 < m.bleu(CANDS, REFS) < 1 and 0 < m.chrf(CANDS, REFS) < 1
    assert [m.exact_match(c, r) for c, r in zip(CANDS, REFS, strict=True)] == [0.0, 0.0, 1.0]
    # token F1: 'the cat sat on the mat' vs 'a cat was sitting on the mat' share cat, on, the, mat
    assert m.token_f1(CANDS[0], REFS[0]) == pytest.approx(2 * (4 / 6) * (4 / 7) / (4 / 6 + 4 / 7))
    assert m.token_f1("", "") == 1.0 and m.token_f1("x", "") == 0.0


def test_label_of_an_answer_on_a_hand_made_example():
    labels = ["account", "billing", "shipping", "technical"]
    cases = {
        "billing": "billing",
        "Billing.": "billing",
        "Route: technical": "technical",
        "This is about shipping, not billing": "shipping",
        "I'm sorry for any confusion": None,
        "accounts": None,  # a different word is not the label
    }
    for answer, want in cases.items():
        assert predicted_label(answer, labels) == want, answer
    rows = [("billing", "billing"), ("Technical", "technical"), ("sorry", "account"), ("shipping", "billing")]
    samples = [
        SampleResult(
            row=i,
            prompt=f"message {i}",
            answer=a,
            reference=gold,
            label=gold,
            correct=predicted_label(a, labels) == gold,
            rouge_l=m.rouge_l(a, gold),
            latency_ms=10.0,
            tokens=1,
            prompt_tokens=5,
            timed=True,
        )
        for i, (a, gold) in enumerate(rows)
    ]
    got = summary.variant_metrics(samples, labels=labels, size_bytes=None, prices=(0, 0))
    assert got.label_accuracy == 0.5 and got.answered == 4 and got.failed == 0


def test_percentiles_and_means():
    assert m.percentile([10, 20, 30, 40], 50) == 25
    assert m.percentile([10, 20, 30, 40], 95) == pytest.approx(38.5)
    assert m.percentile([], 50) is None and m.mean([None, 2, 4]) == 3


def test_judge_replies_are_parsed_or_refused():
    assert parse_judgement('{"score": 8, "reason": "Right route."}') == (8.0, "Right route.")
    assert parse_judgement('Sure! {"score": "3", "reason": "wrong"} hope it helps')[0] == 3.0
    assert parse_judgement("Score: 7\nReason: close")[0] == 7.0
    for bad in ("billing", '{"score": 42}', ""):
        with pytest.raises(ValueError):
            parse_judgement(bad)


def test_judge_failures_are_counted_and_left_out_of_the_average():
    base = {
        "row": 0,
        "prompt": "p",
        "answer": "x",
        "reference": "x",
        "label": None,
        "correct": None,
        "rouge_l": 1.0,
        "latency_ms": 5.0,
        "tokens": 1,
        "prompt_tokens": 1,
        "timed": True,
    }
    samples = [
        SampleResult(**base, judge_score=8.0),
        SampleResult(**base, judge_score=6.0),
        SampleResult(**base, judge_score=None, judge_error="no score"),
        SampleResult(**base, judge_score=None, judge_error="500"),
    ]
    got = summary.variant_metrics(samples, labels=[], size_bytes=10, prices=(0, 0))
    assert got.judge_score == 7.0 and got.judge_failed == 2  # never averaged in as 0


def test_pareto_front_on_a_hand_made_example():
    points = [("a", 0.9, 500), ("b", 0.85, 100), ("c", 0.8, 120), ("d", 0.6, 50), ("e", 0.9, 600)]
    # c is beaten by b (better and smaller); e by a (same quality, smaller)
    assert summary.pareto_front(points) == ["a", "b", "d"]


def _variant(vid, kind, q, size, latency, mem=None, runtime="onnxruntime-genai") -> VariantResult:
    return VariantResult(
        id=vid,
        name=f"model {vid}",
        kind=kind,
        runtime=runtime,
        variant_id=vid if isinstance(vid, int) else None,
        status="ok",
        metrics={"label_accuracy": q, "size_bytes": size, "latency_p50_ms": latency, "peak_rss_bytes": mem},
    )


def test_recommendation_and_headline_in_the_seeds_terms():
    variants = [
        _variant("teacher", "teacher", 0.90, 540e6, 600.0, 1000e6, runtime="transformers"),
        _variant(1, "base", 0.40, 270e6, 500.0, 900e6, runtime="transformers"),
        _variant(2, "finetune", 0.85, 540e6, 450.0, 950e6, runtime="transformers"),
        _variant(3, "onnx", 0.84, 280e6, 150.0, 200e6),
        _variant(4, "onnx", 0.83, 100e6, 100.0, 40e6),
        VariantResult(id=5, name="broken", kind="onnx", status="failed"),
    ]
    rec = summary.recommend(variants, "label_accuracy", tolerance=0.03)
    assert rec.id == 4 and rec.deployable  # 0.83 is within 3% of the best student's 0.85, and smallest
    assert "within 3%" in rec.sentence and "model 4" in rec.sentence
    strict = summary.recommend(variants, "label_accuracy", tolerance=0.0)
    assert strict.id == 2 and "Convert it" in strict.sentence
    head = summary.headline(variants, "label_accuracy", rec.id)
    assert head.quality_kept == pytest.approx(0.83 / 0.90, abs=1e-4)
    assert head.speedup == 6.0 and head.memory_ratio == pytest.approx(0.04)
    assert head.sentence == "model 4 keeps 92% of the teacher's accuracy, answers 6.0× faster and in 4% of the memory."
    assert summary.headline(variants[1:], "label_accuracy", 4) is None  # no teacher, no comparison
