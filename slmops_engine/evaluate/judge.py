"""The optional LLM judge: the teacher scores each answer 1–10 against the reference with a one-line reason.
A judgement that fails (no answer, or no score in it) is recorded as failed and left out of the average —
never scored 0. Judgements are stored with the answer and not asked again."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Callable

from ..errors import SlmopsError
from .samples import set_judgement
from .targets import Target

RUBRIC = (
    "You grade answers. Compare the ANSWER to the REFERENCE for the PROMPT. Score 1-10: 10 = as correct and "
    "useful as the reference, 5 = partly right, 1 = wrong or off-topic. Reply with JSON only: "
    '{"score": <1-10>, "reason": "<one short sentence>"}'
)


def judge_messages(prompt: str, reference: str, answer: str) -> list[dict[str, str]]:
    body = f"PROMPT:\n{prompt}\n\nREFERENCE:\n{reference}\n\nANSWER:\n{answer}"
    return [{"role": "system", "content": RUBRIC}, {"role": "user", "content": body}]


def judge_key(judge: Target, sample_key: str) -> str:
    return hashlib.sha256(f"{judge.identity()}|{RUBRIC}|{sample_key}".encode()).hexdigest()


def parse_judgement(text: str) -> tuple[float, str]:
    """(score 1–10, reason) from the judge's reply; ValueError when it holds no score."""
    match = re.search(r"\{.*\}", text, re.S)
    data = None
    if match:
        try:
            data = json.loads(match.group(0))
        except ValueError:
            data = None
    if isinstance(data, dict) and "score" in data:
        try:
            score = float(data["score"])
        except (TypeError, ValueError):
            score = 0.0
        if 1 <= score <= 10:
            return score, str(data.get("reason", "")).strip()[:300]
        raise ValueError(f"the judge's score is not 1-10: {data['score']!r}")
    found = re.search(r"(?i)score\W{0,5}(10|[1-9])(?![\d])", text)
    if found:
        return float(found.group(1)), text.strip().splitlines()[-1][:300]
    raise ValueError(f"no score in the judge's reply: {text[:80]!r}")


def judge_all(judge: Target, pending: list[dict], max_tokens: int, concurrency: int, progress: Callable) -> None:
    """pending: [{"key", "prompt", "reference", "answer"}]; each judgement is stored as soon as it is made."""

    def record(item: dict, text: str | None, error: str | None) -> None:
        score = reason = None
        if text is not None:
            try:
                score, reason = parse_judgement(text)
            except ValueError as exc:
                error = str(exc)
        set_judgement(item["key"], judge_key(judge, item["key"]), score, reason, error)
        progress()

    if judge.local:
        from .runtimes import load_runner

        runner = load_runner(judge.runtime, judge.path or "", judge.adapter)
        for i in range(0, len(pending), 8):
            group = pending[i : i + 8]
            msgs = [judge_messages(it["prompt"], it["reference"], it["answer"]) for it in group]
            for it, ans in zip(group, runner.answer(msgs, max_tokens), strict=True):
                record(it, ans.text, None)
        return
    asyncio.run(_judge_remote(judge, pending, max_tokens, concurrency, record))


async def _judge_remote(judge: Target, pending: list[dict], max_tokens: int, concurrency: int, record) -> None:
    from ..synth.remote import GaveUp
    from .endpoint import endpoint_client, fan_out

    client = endpoint_client(judge, max_tokens)

    async def grade(it: dict) -> None:
        try:
            reply = await client.ask(judge_messages(it["prompt"], it["reference"], it["answer"]))
            record(it, reply.text, None)
        except GaveUp as exc:
            record(it, None, f"the judge gave no answer ({exc.kind})")
        except SlmopsError as exc:
            record(it, None, exc.message)

    try:
        await fan_out(pending, concurrency, grade)
    finally:
        await client.close()
