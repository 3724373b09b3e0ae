"""One model on this machine answers its evaluation prompts, in a process of its own, so its peak memory is its
own and a crash or out-of-memory kill ends only this variant. Run as
``python -m slmops_engine.evaluate.local_worker TASK.json``; answers are stored as they are made."""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path

from ..errors import describe_exception
from ..sysinfo import process_peak_rss
from .samples import store_samples


def peak_rss() -> int | None:
    # /proc's high-water mark starts afresh at exec; getrusage's would include the parent's before the fork.
    return process_peak_rss(os.getpid())


def run(task: dict) -> None:
    from .runtimes import load_runner

    target, items = task["target"], task["items"]
    runner = load_runner(target["runtime"], target["path"], target.get("adapter"))
    max_new, batch_size = task["max_new_tokens"], task["batch_size"]
    timed = [it for it in items if it["timed"]]
    # Batches of similar length waste less on padding.
    rest = sorted((it for it in items if not it["timed"]), key=lambda it: len(json.dumps(it["messages"])))
    groups = [[it] for it in timed] + [rest[i : i + batch_size] for i in range(0, len(rest), batch_size)]
    for group in groups:
        messages = [it["messages"] for it in group]
        if target.get("labels"):  # a labelled task's teacher: the likeliest label, as when it distils
            answers = runner.choose(messages, target["labels"])
        else:
            answers = runner.answer(messages, max_new, [it["reference"] for it in group])
        rows = []
        for it, ans in zip(group, answers, strict=True):
            rows.append(
                {
                    "key": it["key"],
                    "target": target["ref"],
                    "answer": ans.text,
                    "finish_reason": ans.finish_reason,
                    "latency_ms": ans.latency_ms,
                    "ttft_ms": ans.ttft_ms,
                    "tokens": ans.tokens,
                    "prompt_tokens": ans.prompt_tokens,
                    "timed": it["timed"],
                    "nll": ans.nll,
                    "ref_tokens": ans.ref_tokens,
                    "peak_rss": peak_rss(),
                }
            )
        store_samples(rows, task.get("job_id"))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    task_file = Path(argv[0])
    task = json.loads(task_file.read_text(encoding="utf-8"))
    try:
        run(task)
    except Exception as exc:  # noqa: BLE001 - every failure reaches the parent as a label and a hint
        label, hint = describe_exception(exc)
        error = {"label": label, "hint": hint, "detail": traceback.format_exc()}
        task_file.with_suffix(".error.json").write_text(json.dumps(error), encoding="utf-8")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
