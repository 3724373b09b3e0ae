"""The evaluation run: every variant answers the same held-out rows (models on this machine each in a process of
their own, endpoints concurrently), answers are stored as they come (a resumed run asks only for what is
missing), the optional judge scores them, and the comparison is written as evaluation.json."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from ..errors import DataError, SlmopsError
from ..settings import get_settings
from ..stage_api import Reporter
from ..teaching import answer_tokens, task_labels
from . import summary
from .config import TEACHER, EvalConfig
from .result import EvaluationResult, VariantResult
from .samples import count_stored, forget_failed, stored
from .targets import Target, resolve, sample_key, teacher_target

POLL_SECONDS = 0.5


def train_rows(cfg: EvalConfig) -> list[dict]:
    """The training part of the evaluated data: where a task-aware teacher takes its labels and examples."""
    from ..data.store import load_dataset_dict

    dd = load_dataset_dict(cfg.dataset_id)
    if "train" not in dd or cfg.split == "train":
        return []
    return [{"prompt": r["prompt"], "response": r.get("response"), "label": r.get("label")} for r in dd["train"]]


def load_rows(cfg: EvalConfig) -> list[dict]:
    from ..data.store import load_dataset_dict

    dd = load_dataset_dict(cfg.dataset_id)
    if cfg.split not in dd:
        raise DataError(
            f"The dataset has no {cfg.split} part",
            f"It has: {', '.join(dd)}. Split it on the Data page, or pick a part.",
        )
    part = dd[cfg.split]
    rows = []
    for i, r in enumerate(part):
        reference = r.get("reference") or r.get("response")
        if r.get("prompt") and reference:
            rows.append(
                {
                    "row": i,
                    "prompt": r["prompt"],
                    "system": r.get("system"),
                    "reference": reference,
                    "label": r.get("label") or None,
                }
            )
        if cfg.limit and len(rows) >= cfg.limit:
            break
    if not rows:
        raise DataError(f"No rows with reference answers in the {cfg.split} part", "Use data with responses.")
    return rows


def labels_of(rows: list[dict], train: list[dict]) -> list[str]:
    """The task's label set (the same rule as the teacher's and the fine-tune's), over the training part and the
    evaluated rows together: a few held-out rows may show only one of the labels."""
    return task_labels([*train, *rows]) if train and all(r.get("label") for r in train) else task_labels(rows)


def auto_max_new_tokens(rows: list[dict], labels: list[str]) -> int:
    """Room for the longest label, or the longest reference answer and a little more; at most 512."""
    return answer_tokens([r["reference"] for r in rows], labels, cap=512)


def _items(target: Target, rows: list[dict], cfg: EvalConfig, max_new: int) -> list[dict]:
    items = []
    for i, row in enumerate(rows):
        messages = target.messages(row)
        key = sample_key(target, messages, {"max_new_tokens": max_new, "reference": row["reference"]})
        items.append({"key": key, "messages": messages, "reference": row["reference"], "timed": i < cfg.timed_rows})
    return items


class Progress:
    """Counts answers across every variant, feeds the job's progress and the per-variant cards."""

    def __init__(self, reporter: Reporter, cards: dict, total: int) -> None:
        self.reporter, self.cards, self.total, self.done = reporter, cards, max(total, 1), 0
        self._published = 0.0

    def publish(self, force: bool = False) -> None:
        if force or time.monotonic() - self._published > 1.0:
            self.reporter.state({"targets": self.cards})
            self._published = time.monotonic()

    def step(self, ref: str, n: int = 1, what: str = "answered") -> None:
        self.done += n
        card = self.cards[ref]
        card["done"] = card.get("done", 0) + n
        self.reporter.progress(
            0.02 + 0.93 * self.done / self.total, f"{card['name']}: {card['done']}/{card['total']} {what}"
        )
        self.publish()


def _run_local(
    target: Target, todo: list[dict], cfg: EvalConfig, max_new: int, reporter: Reporter, job_id, progress: Progress
) -> None:
    work = (reporter.run_dir or get_settings().runs_dir) / "targets"
    work.mkdir(parents=True, exist_ok=True)
    task_file = work / f"{abs(hash(target.ref))}.json"
    task_file.with_suffix(".error.json").unlink(missing_ok=True)
    task = {
        "target": target.to_json(),
        "items": todo,
        "max_new_tokens": max_new,
        "batch_size": cfg.batch_size,
        "job_id": job_id,
    }
    task_file.write_text(json.dumps(task), encoding="utf-8")
    keys = [it["key"] for it in todo]
    log = open(work / f"{task_file.stem}.log", "ab")  # noqa: SIM115 - closed below, after the process ends
    proc = subprocess.Popen(
        [sys.executable, "-m", "slmops_engine.evaluate.local_worker", str(task_file)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        seen = 0
        while proc.poll() is None:
            time.sleep(POLL_SECONDS)
            now = count_stored(keys)
            progress.step(target.ref, now - seen) if now > seen else reporter.check_cancelled()
            seen = now
        now = count_stored(keys)
        if now > seen:
            progress.step(target.ref, now - seen)
    finally:
        if proc.poll() is None:  # cancelled: the variant's process goes with the job
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()
    if proc.returncode == 0:
        return
    err_file = task_file.with_suffix(".error.json")
    if err_file.exists():
        err = json.loads(err_file.read_text(encoding="utf-8"))
        raise SlmopsError(err["label"], err["hint"])
    raise SlmopsError(
        f"The process answering with {target.name} was killed (exit {proc.returncode})",
        "Most often the machine ran out of memory: lower the batch size, or evaluate fewer models at once. "
        "Retry: answers made so far are kept.",
    )


def _judge(cfg: EvalConfig, targets: list[Target], rows: list[dict], all_items: dict, progress: Progress) -> None:
    from .judge import judge_all, judge_key

    judge = teacher_target(cfg.project_id)  # the judge grades freely: no labels, no examples
    pending = []
    for t in targets:
        have = stored([it["key"] for it in all_items[t.ref]])
        for row, it in zip(rows, all_items[t.ref], strict=True):
            s = have.get(it["key"])
            if s is None or s.error is not None:
                continue
            if s.judge_key != judge_key(judge, it["key"]) or s.judge_error is not None:
                pending.append(
                    {
                        "key": it["key"],
                        "prompt": row["prompt"],
                        "reference": row["reference"],
                        "answer": s.answer,
                        "ref": t.ref,
                    }
                )
    if not pending:
        return
    progress.cards["judge"] = {"name": f"Judge: {judge.name}", "done": 0, "total": len(pending), "status": "running"}
    judge_all(judge, pending, 96, cfg.concurrency, lambda key=None: progress.step("judge", 1, "judged"))
    progress.cards["judge"]["status"] = "done"


def evaluate(cfg: EvalConfig, reporter: Reporter, job_id: int | None = None) -> dict:
    """Run the comparison; returns the job's result (JSON): the evaluation without its samples, and the path of
    evaluation.json, which holds the whole EvaluationResult."""
    rows = load_rows(cfg)
    train = train_rows(cfg)
    labels = labels_of(rows, train)
    max_new = cfg.max_new_tokens or auto_max_new_tokens(rows, labels)
    reporter.progress(0.01, f"{len(rows)} rows, {len(cfg.variants)} variants")
    targets: list[Target] = []
    failures: dict[str, str] = {}
    cards: dict[str, dict] = {}
    for ref in cfg.variants:
        try:
            targets.append(resolve(ref, cfg.project_id, train))
        except SlmopsError as exc:
            failures[ref] = f"{exc.message}. {exc.hint}".strip()
            cards[ref] = {"name": ref, "done": 0, "total": len(rows), "status": "failed", "error": failures[ref]}
    all_items = {t.ref: _items(t, rows, cfg, max_new) for t in targets}
    todo: dict[str, list[dict]] = {}
    for t in targets:
        keys = [it["key"] for it in all_items[t.ref]]
        forget_failed(keys)
        have = stored(keys)
        todo[t.ref] = [it for it in all_items[t.ref] if it["key"] not in have]
        cards[t.ref] = {"name": t.name, "done": len(rows) - len(todo[t.ref]), "total": len(rows), "status": "queued"}
    judge_work = len(rows) * len(targets) if cfg.judge else 0
    progress = Progress(reporter, cards, sum(len(v) for v in todo.values()) + judge_work)
    progress.publish(force=True)
    settings = {"max_new_tokens": max_new, "concurrency": cfg.concurrency}
    for t in targets:
        cards[t.ref]["status"] = "running"
        progress.publish(force=True)
        try:
            if not todo[t.ref]:
                pass
            elif t.local:
                _run_local(t, todo[t.ref], cfg, max_new, reporter, job_id, progress)
            else:
                from .endpoint import answer_with_endpoint

                answer_with_endpoint(t, todo[t.ref], settings, job_id, lambda ref=t.ref: progress.step(ref))
            cards[t.ref]["status"] = "done"
        except SlmopsError as exc:
            failures[t.ref] = f"{exc.message}. {exc.hint}".strip()
            cards[t.ref].update(status="failed", error=failures[t.ref])
            reporter.log(f"{t.name} failed: {exc}")
        progress.publish(force=True)
    if cfg.judge:
        ok_targets = [t for t in targets if t.ref not in failures]
        try:
            _judge(cfg, ok_targets, rows, all_items, progress)
        except SlmopsError as exc:
            reporter.log(f"The judge could not run: {exc}")
            cards["judge"] = {
                "name": "Judge",
                "status": "failed",
                "error": f"{exc.message}. {exc.hint}",
                "done": 0,
                "total": 0,
            }
    progress.publish(force=True)
    reporter.progress(0.97, "Scoring the answers")
    ev = build_evaluation(cfg, rows, labels, targets, all_items, failures, job_id)
    if not ev.ok_variants:
        first = next(iter(failures.values()))
        raise SlmopsError(f"No variant could be evaluated: {first}", "Fix the first problem and retry the job.")
    out = (reporter.run_dir or get_settings().runs_dir) / "evaluation.json"
    out.write_text(json.dumps(ev.model_dump(mode="json"), indent=1), encoding="utf-8")
    reporter.progress(1.0, ev.recommendation.sentence if ev.recommendation else "Evaluation ready")
    # The job's result (a JSON column): the comparison without the answers, and where the whole of it lies.
    return {
        "evaluation_path": str(out),
        **ev.model_dump(mode="json", exclude={"variants": {"__all__": {"samples"}}}),
    }


def build_evaluation(cfg, rows, labels, targets, all_items, failures, job_id) -> EvaluationResult:
    metric = summary.primary_metric(labels)
    variants = []
    by_ref = {t.ref: t for t in targets}
    for ref in cfg.variants:
        t = by_ref.get(ref)
        head = {
            "id": int(ref) if ref.isdigit() else ref,
            "name": t.name if t else ref,
            "kind": t.kind if t else "",
            "runtime": t.runtime if t else "",
            "precision": t.precision if t else "",
            "variant_id": t.variant_id if t else None,
            "parent_id": t.parent_id if t else None,
        }
        if t is None or ref in failures:
            variants.append(VariantResult(**head, status="failed", error=failures.get(ref)))
            continue
        have = stored([it["key"] for it in all_items[ref]])
        samples = [
            summary.sample_view(row, have.get(it["key"]), labels) for row, it in zip(rows, all_items[ref], strict=True)
        ]
        prices = (cfg.price_input_per_1k, cfg.price_output_per_1k) if t.kind == "teacher" and not t.local else (0, 0)
        mets = summary.variant_metrics(samples, labels=labels, size_bytes=t.size_bytes, prices=prices)
        variants.append(VariantResult(**head, status="ok", metrics=mets, samples=samples))
    pareto, pareto_latency = summary.fronts(variants, metric)
    rec = summary.recommend(variants, metric, cfg.quality_tolerance)
    return EvaluationResult(
        job_id=job_id,
        project_id=cfg.project_id,
        dataset_id=cfg.dataset_id,
        split=cfg.split,
        rows=len(rows),
        labels=labels,
        primary_metric=metric,
        variants=variants,
        pareto=pareto,
        pareto_latency=pareto_latency,
        recommendation=rec,
        headline=summary.headline(variants, metric, rec.id if rec else None),
    )


def load_evaluation(job_id: int) -> EvaluationResult:
    """The full evaluation (with every sample) a finished job wrote; results stored by earlier versions load too."""
    from ..jobs import get_job

    job = get_job(job_id)
    path = (job.result or {}).get("evaluation_path")
    if job.kind != "evaluate" or not path or not Path(path).exists():
        raise DataError(f"Job {job_id} has no evaluation", "Evaluations are listed on the Evaluate page.")
    return EvaluationResult.model_validate_json(Path(path).read_text(encoding="utf-8"))


__all__ = ["TEACHER", "evaluate", "load_evaluation", "load_rows"]
