"""Turn a teacher's raw text into (reasoning, answer), and flag answers a human should look at."""

from __future__ import annotations

import re
from statistics import median

THINK = re.compile(r"<think>(.*?)</think>", re.S | re.I)
REFUSAL = re.compile(
    r"\b(I (?:can(?:no|')t|am unable to|won't) (?:help|assist|answer|provide|comply)|I'm sorry, but|as an AI\b)",
    re.I,
)
FLAGS = ("empty", "refusal", "cut_off", "too_long", "duplicate", "not_a_label")


def split_reasoning(text: str, reasoning_field: str | None = None) -> tuple[str | None, str]:
    if reasoning_field:
        return reasoning_field.strip(), text.strip()
    m = THINK.search(text)
    if not m:
        if "<think>" in text.lower():  # never closed: everything is reasoning, no answer
            return text.split(">", 1)[-1].strip(), ""
        return None, text.strip()
    return m.group(1).strip(), (text[: m.start()] + text[m.end() :]).strip()


def flag_answers(answers: list[str], finish_reasons: list[str], labels: list[str] | None = None) -> list[list[str]]:
    """Per answer: empty, refusal, cut off by max tokens, much longer than the rest, same as another answer, and
    for a labelled task, not one of the labels."""
    lengths = [len(a.split()) for a in answers]
    typical = median(lengths) if lengths else 0
    seen: dict[str, int] = {}
    for a in answers:
        norm = " ".join(a.lower().split())
        seen[norm] = seen.get(norm, 0) + 1
    out = []
    for a, n, fin in zip(answers, lengths, finish_reasons, strict=True):
        flags = []
        if not a.strip():
            flags.append("empty")
        if REFUSAL.search(a):
            flags.append("refusal")
        if fin == "length":
            flags.append("cut_off")
        if n > 50 and n > 4 * max(typical, 1):
            flags.append("too_long")
        # Short answers (labels, yes/no) repeat by nature; a repeated long answer is suspicious.
        if n >= 8 and seen[" ".join(a.lower().split())] > 1:
            flags.append("duplicate")
        if labels and a.strip() not in labels:
            flags.append("not_a_label")
        out.append(flags)
    return out
