"""An OpenAI-compatible endpoint (the teacher, or a Foundry Local deployment) answers evaluation prompts: the
timed rows one at a time and streamed (time to first token), the rest concurrently, with the synth stage's
retries. A request that still fails is stored as failed (counted, asked again next time); an error retrying
cannot fix (unreachable, 401, 404) fails the whole variant with its plain-language reason."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from ..errors import EndpointError
from ..synth.remote import GaveUp, RemoteTeacher
from ..sysinfo import process_peak_rss
from ..teachers import TeacherConfig, endpoint_error
from .samples import store_samples
from .targets import Target


def _server_peak(target: Target) -> int | None:
    if target.kind != "deployment":
        return None
    from ..serving.deployments import server_pid

    return process_peak_rss(server_pid())


async def _streamed(client: RemoteTeacher, messages: list[dict], max_tokens: int) -> dict:
    t0 = time.perf_counter()
    ttft, text, chunks = None, "", 0
    finish, usage = "", None
    try:
        stream = await client.client.chat.completions.create(
            model=client.cfg.model, messages=messages, temperature=0, max_tokens=max_tokens, stream=True
        )
        async for chunk in stream:
            usage = getattr(chunk, "usage", None) or usage
            if not chunk.choices:
                continue
            piece = chunk.choices[0].delta.content
            finish = chunk.choices[0].finish_reason or finish
            if piece:
                ttft = ttft if ttft is not None else (time.perf_counter() - t0) * 1000
                text += piece
                chunks += 1
    except Exception as exc:  # noqa: BLE001 - translated for the operator
        raise endpoint_error(exc, client.cfg) from exc
    return {
        "answer": text.strip(),
        "finish_reason": finish,
        "latency_ms": (time.perf_counter() - t0) * 1000,
        "ttft_ms": ttft,
        "tokens": int(getattr(usage, "completion_tokens", 0) or chunks),
        "prompt_tokens": int(getattr(usage, "prompt_tokens", 0) or 0),
    }


async def _plain(client: RemoteTeacher, messages: list[dict], labels: list[str] | None = None) -> dict:
    reply = await client.ask(messages, labels=labels or None)
    return {
        "answer": reply.text.strip(),
        "finish_reason": reply.finish_reason,
        "latency_ms": reply.latency_ms,
        "ttft_ms": None,
        "tokens": reply.completion_tokens,
        "prompt_tokens": reply.prompt_tokens,
    }


def endpoint_client(target: Target, max_tokens: int, settings: dict | None = None) -> RemoteTeacher:
    """A greedy client for an evaluation target's endpoint, with the synth stage's retries."""
    settings = settings or {}
    return RemoteTeacher(
        TeacherConfig.model_validate(target.endpoint),
        temperature=0,
        max_tokens=max_tokens,
        timeout=settings.get("timeout", 120),
        max_retries=settings.get("max_retries", 3),
        requests_per_minute=0,
    )


async def fan_out(items: list[dict], concurrency: int, handle: Callable[[dict], Awaitable[None]]) -> None:
    """``handle`` every item, at most ``concurrency`` at a time."""
    queue: asyncio.Queue[dict] = asyncio.Queue()
    for it in items:
        queue.put_nowait(it)

    async def worker() -> None:
        while not queue.empty():
            await handle(queue.get_nowait())

    await asyncio.gather(*(worker() for _ in range(min(concurrency, max(len(items), 1)))))


async def _answer_all(target: Target, items: list[dict], settings: dict, job_id, progress: Callable) -> None:
    client = endpoint_client(target, settings["max_new_tokens"], settings)

    def save(it: dict, result: dict | None, error: str | None) -> None:
        row = {"key": it["key"], "target": target.ref, "timed": it["timed"], "error": error, **(result or {})}
        store_samples([{**row, "peak_rss": _server_peak(target)}], job_id)
        progress()

    try:
        first = True
        for it in (x for x in items if x["timed"]):
            try:  # a labelled task's answer comes whole (structured output), the rest streams
                if target.labels:
                    save(it, await _plain(client, it["messages"], target.labels), None)
                else:
                    save(it, await _streamed(client, it["messages"], settings["max_new_tokens"]), None)
            except (EndpointError, GaveUp) as exc:
                if isinstance(exc, GaveUp) and isinstance(exc.__cause__, Exception):
                    exc = endpoint_error(exc.__cause__, client.cfg)  # what the last try ran into, in plain words
                why = exc.message if isinstance(exc, EndpointError) else f"gave up after retries ({exc.kind})"
                if first:  # the very first request tells whether the endpoint works at all
                    raise EndpointError(f"{target.name}: {why}", "Check that the endpoint runs and answers.") from exc
                save(it, None, why)
            first = False

        async def answer(it: dict) -> None:
            try:
                save(it, await _plain(client, it["messages"], target.labels), None)
            except GaveUp as exc:
                save(it, None, f"gave up after retries ({exc.kind})")

        await fan_out([x for x in items if not x["timed"]], settings["concurrency"], answer)
    finally:
        await client.close()


def answer_with_endpoint(target: Target, items: list[dict], settings: dict, job_id, progress: Callable) -> None:
    asyncio.run(_answer_all(target, items, settings, job_id, progress))
