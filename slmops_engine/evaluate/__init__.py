"""Evaluate and compare model variants on the same held-out rows.

The evaluation's result is ``result.EvaluationResult`` (stored as ``runs/<job>/evaluation.json``, written by
``slmops eval --out``, read back by ``runner.load_evaluation``):

    EvaluationResult  job_id, project_id, dataset_id, split, rows, labels (empty without labels),
                      primary_metric ("label_accuracy" | "rouge_l"), variants, pareto (ids on the quality-vs-size
                      front), pareto_latency (on the quality-vs-latency front), recommendation | None, headline | None
    VariantResult     id ("teacher" | 12 | "12:adapter" | "deployment:3"), name, kind, runtime, precision,
                      variant_id, parent_id, status ("ok" | "failed"), error, metrics, samples
    VariantMetrics    rouge_l, bleu, chrf, exact_match, token_f1, label_accuracy, perplexity, judge_score,
                      judge_failed, latency_p50_ms, latency_p95_ms, ttft_ms, tokens_per_s, peak_rss_bytes, size_bytes,
                      cost_per_1k_answers, answered, failed
    SampleResult      row, prompt, reference, label, answer, predicted_label, correct, rouge_l, latency_ms, ttft_ms,
                      tokens, prompt_tokens, timed, judge_score, judge_reason, judge_error, error
    Recommendation    id, name, variant_id, deployable, sentence
    Headline          sentence, student_id, quality_kept, speedup, memory_ratio, size_ratio

The evaluation job's own result (its database row) is that JSON without the samples, plus ``evaluation_path``.
Shares are fractions (0–1); the judge score is 1–10; None where a metric does not apply.
"""
