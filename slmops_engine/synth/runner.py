"""Run the teacher over a dataset: skip cached answers, ask for the rest, then write the answered dataset."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from ..errors import DataError, SlmopsError
from ..models import TeacherAnswer
from ..stage_api import Reporter
from ..teachers import Provider
from ..teaching import Asking, answer_tokens, asking
from .cache import answer_key, cached, store, system_prompt
from .config import SynthConfig
from .parsing import split_reasoning
from .remote import GaveUp, RemoteTeacher, Reply
from .tracker import Tracker


@dataclass(frozen=True)
class Item:
    split: str
    row: int
    k: int
    prompt: str
    messages: list[dict[str, str]]
    key: str


def conversation(cfg: SynthConfig, item: Item) -> list[dict[str, str]]:
    return item.messages


def how_to_ask(cfg: SynthConfig, dd) -> Asking:
    """The teacher's instructions, the task's labels and the examples it may be shown (the training part's)."""
    train = (
        [{"prompt": r["prompt"], "response": r.get("response"), "label": r.get("label")} for r in dd["train"]]
        if "train" in dd
        else []
    )
    return asking(cfg.teacher, train, system=system_prompt(cfg))


def work_items(cfg: SynthConfig, dd, ask: Asking) -> list[Item]:
    items: list[Item] = []
    n_prompts = 0
    for split in cfg.splits:
        if split not in dd:
            continue
        for i, row in enumerate(dd[split]):
            if cfg.max_prompts is not None and n_prompts >= cfg.max_prompts:
                return items
            n_prompts += 1
            messages = ask.messages(row["prompt"], row.get("system"))
            for k in range(cfg.answers_per_prompt):
                key = answer_key(cfg, messages, ask.labels, k)
                items.append(Item(split, i, k, row["prompt"], messages, key))
    return items


def _record(cfg: SynthConfig, item: Item, reply: Reply, job_id: int | None) -> TeacherAnswer:
    reasoning, answer = split_reasoning(reply.text, reply.reasoning_field)
    teacher = cfg.teacher.model or cfg.teacher.local_path or ""
    return TeacherAnswer(
        key=item.key,
        job_id=job_id,
        prompt=item.prompt,
        answer=answer,
        reasoning=reasoning,
        finish_reason=reply.finish_reason,
        prompt_tokens=reply.prompt_tokens,
        completion_tokens=reply.completion_tokens,
        latency_ms=reply.latency_ms,
        teacher=teacher,
    )


async def _ask_remote(
    cfg: SynthConfig, todo: list[Item], tracker: Tracker, job_id: int | None, labels: list[str]
) -> None:
    teacher = RemoteTeacher(
        cfg.teacher,
        temperature=cfg.temperature,
        max_tokens=cfg.max_tokens,
        timeout=cfg.request_timeout,
        max_retries=cfg.max_retries,
        requests_per_minute=cfg.requests_per_minute,
        on_retry=tracker.retry,
    )
    queue: asyncio.Queue[Item] = asyncio.Queue()
    for it in todo:
        queue.put_nowait(it)

    async def worker() -> None:
        while True:
            try:
                item = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            try:
                reply = await teacher.ask(conversation(cfg, item), labels=labels)
            except GaveUp as exc:
                tracker.fail(exc.kind)
                continue
            rec = _record(cfg, item, reply, job_id)
            store(rec)  # persisted before anything else happens to it
            tracker.add(item.prompt, reply, rec.answer)

    tasks = [asyncio.create_task(worker()) for _ in range(min(cfg.concurrency, len(todo)))]
    try:
        # The first fatal error (401, 404, cancel) stops every worker; answers stored so far stay cached.
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for t in pending:
            t.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        errors = [t.exception() for t in done if t.exception() is not None]  # retrieve every one, raise the first
        if errors:
            raise errors[0]
    finally:
        await teacher.close()


def _ask_local(cfg: SynthConfig, todo: list[Item], tracker: Tracker, job_id: int | None, labels: list[str]) -> None:
    from .local import LocalTeacher

    tracker.loading = True
    tracker.publish(force=True)
    teacher = LocalTeacher(cfg.teacher.local_path or "", temperature=cfg.temperature, max_tokens=cfg.max_tokens)
    tracker.loading = False
    tracker.publish(force=True)
    for start in range(0, len(todo), cfg.batch_size):
        batch = todo[start : start + cfg.batch_size]
        convs = [conversation(cfg, it) for it in batch]
        replies = teacher.choose(convs, labels) if labels else teacher.generate(convs)
        for item, reply in zip(batch, replies, strict=True):
            rec = _record(cfg, item, reply, job_id)
            store(rec)
            tracker.add(item.prompt, reply, rec.answer)


def ask_teacher(
    cfg: SynthConfig, items: list[Item], reporter: Reporter, job_id: int | None = None, labels: list[str] | None = None
) -> Tracker:
    """Answer every item not in the cache (with one of ``labels`` when the task has them). Returns the tracker."""
    hits = cached([it.key for it in items])
    tracker = Tracker(cfg, reporter, total=len(items), cached=len(hits))
    todo = [it for it in items if it.key not in hits]
    reporter.log(f"{len(items)} answers needed: {len(hits)} cached, {len(todo)} to ask")
    tracker.publish(force=True)
    try:
        if todo:
            if cfg.teacher.provider == Provider.local:
                _ask_local(cfg, todo, tracker, job_id, labels or [])
            else:
                asyncio.run(_ask_remote(cfg, todo, tracker, job_id, labels or []))
    finally:
        # The last counts reach the page even when a fatal error or a cancel ends the run.
        tracker.reporter.state(tracker.snapshot())
    tracker.publish(force=True)
    return tracker


def check_success(cfg: SynthConfig, tracker: Tracker, answered: int) -> None:
    ratio = answered / tracker.total if tracker.total else 0.0
    if ratio < cfg.min_success_ratio:
        kinds = ", ".join(f"{n}× {k}" for k, n in tracker.failed.most_common()) or "none recorded"
        raise SlmopsError(
            f"Only {ratio:.0%} of the answers arrived (minimum {cfg.min_success_ratio:.0%}); failures: {kinds}",
            "Retry the job: answers already received are kept and not paid for again. Lower concurrency or the "
            "requests-per-minute limit if the endpoint was rate limiting (429).",
        )


REASONING_TOKENS = 512  # room for the steps of a teacher asked to think before it answers


def answer_length(cfg: SynthConfig, dd, labels: list[str]) -> int:
    """The answer length of a run: the operator's, or sized from the task (its labels, or the longest answer
    already in the data)."""
    if cfg.max_tokens:
        return cfg.max_tokens
    references = [r for part in dd.values() if "response" in part.column_names for r in part["response"] if r]
    return answer_tokens(references, labels) + (REASONING_TOKENS if cfg.reasoning else 0)


def load_items(cfg: SynthConfig) -> tuple[SynthConfig, object, list[Item], list[str]]:
    """The run's settings with the answer length decided, the data, the answers it needs and the task's labels."""
    from ..data.store import load_dataset_dict

    dd = load_dataset_dict(cfg.dataset_id)
    ask = how_to_ask(cfg, dd)
    cfg = cfg.model_copy(update={"max_tokens": answer_length(cfg, dd, ask.labels)})
    items = work_items(cfg, dd, ask)
    if not items:
        raise DataError(
            f"No prompts in the part(s) {', '.join(cfg.splits)}",
            f"The dataset has: {', '.join(dd)}. Choose parts that exist.",
        )
    return cfg, dd, items, ask.labels
