"""Read-only views for the Distill page: which datasets to offer, what a run will ask, how a run went, and the
review table's filters and decisions. Plain Python, no UI library."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from ..models import Dataset, Job
from .config import SynthConfig
from .review import ReviewDecisions

ANSWERED_STAGES = ("synth", "review")
ANSWERED_SPLITS = ("train", "validation")

FLAG_LABELS: dict[str, str] = {
    "empty": "empty",
    "refusal": "refused",
    "cut_off": "cut off",
    "too_long": "too long",
    "duplicate": "duplicate",
}
FLAG_HELP = (
    "empty: no answer · refused: the teacher declined · cut off: stopped at the length limit · "
    "too long: much longer than the others · duplicate: the same long answer as another row"
)

FAILURE_LABELS: dict[str, str] = {
    "429": "rate limited (429)",
    "5xx": "server error (5xx)",
    "timeout": "timed out",
    "connection": "connection lost",
    "malformed": "unreadable reply",
}


def prompt_datasets(datasets: Iterable[Dataset]) -> list[Dataset]:
    """Datasets whose prompts the teacher can answer (not ones the teacher already answered), newest first."""
    return sorted((d for d in datasets if d.stage not in ANSWERED_STAGES), key=lambda d: -(d.id or 0))


def answered_datasets(datasets: Iterable[Dataset]) -> list[Dataset]:
    """Datasets the teacher answered, and reviewed versions of them, newest first."""
    return sorted((d for d in datasets if d.stage in ANSWERED_STAGES), key=lambda d: -(d.id or 0))


def planned_prompts(ds: Dataset, splits: Iterable[str], max_prompts: int | None = None) -> int:
    """How many prompts a run over these parts will take (the quick-trial cap included)."""
    n = sum(int(ds.info.get("splits", {}).get(s, 0)) for s in splits)
    return min(n, max_prompts) if max_prompts else n


def run_plan(cfg: SynthConfig) -> dict:
    """What a run will do before it starts: answers already saved from earlier runs (not asked or paid for again),
    the answer length it uses and the task's labels. Empty when the dataset cannot be read (the preflight says
    why)."""
    from ..errors import SlmopsError
    from .cache import cached
    from .runner import load_items

    try:
        resolved, _, items, labels = load_items(cfg)
    except SlmopsError:
        return {"saved": 0, "max_tokens": cfg.max_tokens, "labels": []}
    return {"saved": len(cached([it.key for it in items])), "max_tokens": resolved.max_tokens, "labels": labels}


def already_answered(cfg: SynthConfig) -> int:
    """How many of the answers a run needs are already saved (earlier runs with the same prompts and settings)."""
    return run_plan(cfg)["saved"]


def saved_for_run(job: Job) -> int:
    """Answers a Retry of this run will not ask again (the live counters can lag behind a run that failed)."""
    from pydantic import ValidationError

    try:
        return already_answered(SynthConfig.model_validate(job.config))
    except ValidationError:
        return 0  # a config from an older version of the app


def answer_shape(labels: list[str], max_tokens: int | None, sized: bool) -> str:
    """One line on what the teacher may answer: one of the labels, or free text up to a length."""
    how = "sized from the task" if sized else "as set"
    if labels:
        shown = ", ".join(labels[:8]) + (" …" if len(labels) > 8 else "")
        return f"A labelled task: the teacher answers with one of {len(labels)} labels ({shown})."
    return f"Answers of up to {max_tokens} tokens ({how}); a longer answer is cut off and flagged."


def answer_cost_ceiling(requests: int, max_tokens: int, price_output_per_1k: float) -> float:
    """The most the answers can cost: every answer as long as allowed (prompt tokens come on top)."""
    return requests * max_tokens * price_output_per_1k / 1000


def run_numbers(job: Job, state: dict) -> dict:
    """A run's counters: the live snapshot while it runs, its result once it succeeded (whichever is newer)."""
    numbers = {
        "total": 0,
        "done": 0,
        "cached": 0,
        "answered": 0,
        "failed": {},
        "retries": {},
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "cost": 0.0,
        "answers_per_min": 0.0,
    }
    numbers.update({k: v for k, v in state.items() if k != "recent"})
    if job.result:
        numbers.update({k: v for k, v in job.result.items() if k in numbers or k == "dataset_id"})
    return numbers


def failure_rows(numbers: dict) -> list[dict]:
    """Failures and retries by kind, in plain words: [{kind, what, count}] for a bar chart."""
    rows = []
    for what, key in (("gave up", "failed"), ("retried", "retries")):
        for kind, n in sorted((numbers.get(key) or {}).items()):
            if n:
                rows.append({"kind": FAILURE_LABELS.get(kind, kind), "what": what, "count": int(n)})
    return rows


def row_flags(row: dict) -> list[str]:
    return [f for f in (row.get("flags") or "").split(",") if f]


def flag_counts(rows: Iterable[dict]) -> Counter:
    """How many rows carry each flag."""
    counts: Counter = Counter()
    for r in rows:
        counts.update(row_flags(r))
    return counts


def filter_rows(rows: list[dict], show: str) -> list[dict]:
    """'all', 'flagged' (any flag) or one flag kind."""
    if show == "all":
        return rows
    if show == "flagged":
        return [r for r in rows if row_flags(r)]
    return [r for r in rows if show in row_flags(r)]


def is_kept(row: dict, rejected: set[str], kept: set[str], edits: dict[str, str], reject_flagged: bool) -> bool:
    """Whether a row goes into the reviewed dataset. An explicit choice wins; an edited answer is kept; with
    'reject all flagged' a flagged row is dropped unless the operator kept or edited it."""
    rid = row["id"]
    if rid in rejected:
        return False
    if rid in kept or rid in edits:
        return True
    return not (reject_flagged and row_flags(row))


def decisions(
    rows: list[dict], rejected: set[str], kept: set[str], edits: dict[str, str], reject_flagged: bool
) -> ReviewDecisions:
    """The operator's review as the engine's decisions: every dropped row named, edits that change the text."""
    original = {r["id"]: r["answer"] for r in rows}
    changed = {rid: text for rid, text in edits.items() if rid in original and original[rid] != text}
    dropped = {r["id"] for r in rows if not is_kept(r, rejected, kept, changed, reject_flagged)}
    # reject_flagged is recorded on the new dataset; say it only when no flagged row was kept by hand.
    overridden = any(row_flags(r) and r["id"] in kept for r in rows)
    return ReviewDecisions(rejected=dropped, edits=changed, reject_flagged=reject_flagged and not overridden)
