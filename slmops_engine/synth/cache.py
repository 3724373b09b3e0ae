"""The answer cache: one row per (prompt, settings, answer number), written as soon as the answer arrives."""

from __future__ import annotations

import hashlib
import json

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from ..db import session_scope
from ..models import TeacherAnswer
from .config import SynthConfig


def system_prompt(cfg: SynthConfig) -> str:
    base = cfg.teacher.system_prompt.strip()
    if cfg.reasoning:
        extra = (
            "Think step by step inside <think>...</think> first, then give only the final answer after the closing tag."
        )
        base = f"{base}\n\n{extra}" if base else extra
    return base


def answer_key(cfg: SynthConfig, messages: list[dict[str, str]], labels: list[str], k: int) -> str:
    """Everything that shapes the answer (the whole request, the allowed answers), and nothing that does not
    (concurrency, prices, timeouts)."""
    t = cfg.teacher
    material = {
        "messages": messages,
        "labels": labels,
        "provider": t.provider.value,
        "base_url": t.base_url,
        "model": t.model,
        "local": t.local_path,
        "temperature": cfg.temperature,
        "max_tokens": cfg.max_tokens,
        "k": k,
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def cached(keys: list[str], chunk: int = 500) -> dict[str, TeacherAnswer]:
    out: dict[str, TeacherAnswer] = {}
    with session_scope() as s:
        for i in range(0, len(keys), chunk):
            part = keys[i : i + chunk]
            for row in s.exec(select(TeacherAnswer).where(col(TeacherAnswer.key).in_(part))):
                out[row.key] = row
    return out


def store(answer: TeacherAnswer) -> bool:
    """Persist one answer; False when it was already there (a concurrent or earlier run stored it)."""
    try:
        with session_scope() as s:
            s.add(answer)
        return True
    except IntegrityError:
        return False
