"""How long a fine-tuning run will take and how much memory it will hold, before it starts.

The work is counted in tokens, as the student sees them (chat template applied, cut at the maximum length). The
pace and the fixed cost (loading, the validation measurements before and after, saving) come from the newest
finished run of the same student and method on this machine; without one, from the laptop's measurement of the
bundled SmolLM2-135M, scaled by the student's size. Memory: that run's measured peak, moved by the difference the
rule of thumb sees between the two runs (batch, longest example); without one, the rule of thumb itself."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from ..jobs.estimates import LAPTOP, Estimate, newest, peak_of, took
from .config import FinetuneConfig
from .workload import memory_need, planned_steps, training_rows

# bench/estimates.py, LoRA on the bundled SmolLM2-135M in fp32 on 2 cores (the offline demo's 240 answers).
REFERENCE_PARAMS = 134.5e6
LAPTOP_TOKENS_PER_S = 260.0  # real tokens a second in the training loop, its in-loop validation included
LAPTOP_FIXED_SECONDS = 14.0  # loading, the validation loss and accuracy before and after, saving
# The worker's peak (the training loop, then merging and saving the model, the validation answers) over the rule
# of thumb for its training loop alone: 4.28 GB measured against 2.98 GB.
LAPTOP_PEAK_OVER_RULE = 1.45
SAMPLE_ROWS = 2000  # rows tokenized to count a big dataset's tokens (the rest is scaled)


@dataclass(frozen=True)
class Work:
    tokens: float  # real tokens the training loop will see, every pass
    longest: int  # the longest example, in tokens (what a batch is padded to)
    val_rows: int


@lru_cache(maxsize=16)
def _part_tokens(dataset_path: str, split: str, student_dir: str, max_length: int) -> tuple[int, int, int]:
    """(rows, tokens, longest) of one part as the student sees it; a big part is sampled and scaled."""
    from datasets import load_from_disk
    from transformers import AutoTokenizer

    from .data import encode

    part = load_from_disk(dataset_path)[split]
    tok = AutoTokenizer.from_pretrained(student_dir)
    rows = part.select(range(min(len(part), SAMPLE_ROWS)))
    lengths = [len(encode(dict(r), tok, max_length)["input_ids"]) for r in rows if r.get("response")]
    if not lengths:
        return len(part), 0, 0
    return len(part), round(sum(lengths) * len(part) / len(rows)), max(lengths)


def planned_work(cfg: FinetuneConfig) -> Work:
    from ..data.store import get_dataset
    from ..students import resolve_student

    ds = get_dataset(cfg.dataset_id)
    rows, tokens, longest = _part_tokens(ds.path, "train", str(resolve_student(cfg.student)), cfg.max_length)
    train, val = training_rows(ds)
    per_row = tokens / max(rows, 1)
    if cfg.max_steps:
        seen = planned_steps(cfg, ds) * cfg.batch_size * cfg.grad_accum * per_row
    else:
        seen = cfg.epochs * per_row * train
    return Work(tokens=seen, longest=longest, val_rows=val)


def _same_run(cfg: FinetuneConfig):
    def same(job) -> bool:
        c, r = job.config, job.result or {}
        return (
            c.get("student") == cfg.model_dump(mode="json")["student"]
            and c.get("method") == cfg.method
            and bool(c.get("kd")) == cfg.kd
            and c.get("precision") == cfg.precision
            and bool(r.get("tokens_per_s"))
            and not r.get("resumed")
        )

    return same


def memory_rule(cfg: FinetuneConfig, info, longest: int, gpu: bool) -> int:
    """The rule of thumb (catalog.estimate_memory) for this method, batches padded to the longest example."""
    return memory_need(cfg, info, gpu, seq_len=max(16, min(cfg.max_length, longest or cfg.max_length)))


def estimate(cfg: FinetuneConfig) -> Estimate:
    from ..model_folder import inspect_model_folder
    from ..students import resolve_student
    from ..sysinfo import system_info

    info = inspect_model_folder(resolve_student(cfg.student))
    work = planned_work(cfg)
    gpu = system_info().has_cuda
    need = memory_rule(cfg, info, work.longest, gpu)
    job = newest("finetune", _same_run(cfg))
    if job is None:
        scale = info.n_params / REFERENCE_PARAMS
        seconds = LAPTOP_FIXED_SECONDS * scale + work.tokens / (LAPTOP_TOKENS_PER_S / scale)
        basis = LAPTOP + (", scaled to this model's size" if abs(scale - 1) > 0.05 else "")
        return Estimate(seconds, basis, int(need * LAPTOP_PEAK_OVER_RULE))
    r = job.result
    fixed = max(0.0, took(job) - float(r.get("train_seconds") or 0))
    seconds = fixed + work.tokens / float(r["tokens_per_s"])
    peak = peak_of(job)
    if peak and r.get("longest_tokens"):
        past = FinetuneConfig.model_validate(job.config)
        peak += need - memory_rule(past, info, int(r["longest_tokens"]), gpu)
    return Estimate(seconds, f"from run #{job.id} of this model", max(peak, 1) if peak else need)
