"""Evaluation answers in the database: stored as they are made, found again by key (a resumed or repeated
evaluation never answers twice); failed requests are kept to be counted, and asked again next time."""

from __future__ import annotations

from sqlmodel import col, delete, select

from ..db import session_scope
from ..models import EvalSample


def stored(keys: list[str], chunk: int = 500) -> dict[str, EvalSample]:
    out: dict[str, EvalSample] = {}
    with session_scope() as s:
        for i in range(0, len(keys), chunk):
            for row in s.exec(select(EvalSample).where(col(EvalSample.key).in_(keys[i : i + chunk]))):
                out[row.key] = row
    return out


def count_stored(keys: list[str]) -> int:
    return sum(1 for row in stored(keys).values() if row.error is None)


def forget_failed(keys: list[str]) -> None:
    """Failed requests are asked again: drop their rows before a new attempt."""
    with session_scope() as s:
        s.exec(delete(EvalSample).where(col(EvalSample.key).in_(keys), col(EvalSample.error).is_not(None)))


def store_samples(rows: list[dict], job_id: int | None) -> None:
    """Insert or replace answers by key (a sample answered again replaces the failed attempt)."""
    with session_scope() as s:
        for r in rows:
            existing = s.exec(select(EvalSample).where(EvalSample.key == r["key"])).first()
            row = existing or EvalSample(key=r["key"])
            for k, v in r.items():
                setattr(row, k, v)
            row.job_id = job_id
            s.add(row)


def set_judgement(key: str, judge_key: str, score: float | None, reason: str | None, error: str | None) -> None:
    with session_scope() as s:
        row = s.exec(select(EvalSample).where(EvalSample.key == key)).first()
        if row is not None:
            row.judge_key, row.judge_score, row.judge_reason, row.judge_error = judge_key, score, reason, error
            s.add(row)
