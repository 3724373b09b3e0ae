"""Answer quality against references, with the well-kept libraries (rouge-score, sacrebleu), plus the simple
measures every operator reads first: exact match, token F1 and label accuracy. Shares are fractions (0–1)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from ..teaching import normalize

_SCORER = None


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F1 (rouge-score, with stemming)."""
    global _SCORER
    if _SCORER is None:
        from rouge_score import rouge_scorer

        _SCORER = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    return float(_SCORER.score(reference, candidate)["rougeL"].fmeasure)


def bleu(candidates: Sequence[str], references: Sequence[str]) -> float:
    """Corpus BLEU (sacrebleu) as a fraction; short answers get sacrebleu's effective-order smoothing."""
    import sacrebleu

    if not candidates:
        return 0.0
    return float(sacrebleu.corpus_bleu(list(candidates), [list(references)], use_effective_order=True).score) / 100


def chrf(candidates: Sequence[str], references: Sequence[str]) -> float:
    """Corpus chrF (sacrebleu) as a fraction."""
    import sacrebleu

    if not candidates:
        return 0.0
    return float(sacrebleu.corpus_chrf(list(candidates), [list(references)]).score) / 100


def exact_match(candidate: str, reference: str) -> float:
    return float(normalize(candidate) == normalize(reference))


def token_f1(candidate: str, reference: str) -> float:
    """SQuAD-style F1 on normalized words."""
    a, b = normalize(candidate).split(), normalize(reference).split()
    if not a or not b:
        return float(a == b)
    common = sum((Counter(a) & Counter(b)).values())
    if common == 0:
        return 0.0
    p, r = common / len(a), common / len(b)
    return 2 * p * r / (p + r)


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0–100); None for no values."""
    xs = sorted(v for v in values if v is not None)
    if not xs:
        return None
    k = (len(xs) - 1) * q / 100
    lo, hi = math.floor(k), math.ceil(k)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def mean(values: Sequence[float | None]) -> float | None:
    xs = [v for v in values if v is not None]
    return sum(xs) / len(xs) if xs else None
