"""How much work and memory one fine-tuning run is: the rows it trains on, the optimizer steps it takes and the
memory the catalog's rule of thumb gives it. The estimate, the preflight and the pages all count it this way."""

from __future__ import annotations

import math

from ..models import Dataset
from .config import FinetuneConfig


def training_rows(ds: Dataset) -> tuple[int, int]:
    """(rows trained on, rows validated on); without a validation part 10% of the training rows are held out."""
    splits = ds.info.get("splits", {})
    train, val = int(splits.get("train", 0)), int(splits.get("validation", 0))
    if not val and train:
        val = max(1, train // 10)
        train -= val
    return train, val


def planned_steps(cfg: FinetuneConfig, ds: Dataset) -> int:
    """Optimizer steps the run will take (as the HF Trainer counts them)."""
    if cfg.max_steps:
        return cfg.max_steps
    train, _ = training_rows(ds)
    per_epoch = max(1, math.ceil(math.ceil(train / cfg.batch_size) / cfg.grad_accum))
    return max(1, math.ceil(cfg.epochs * per_epoch))


def memory_need(cfg: FinetuneConfig, info, gpu: bool, seq_len: int | None = None) -> int:
    """Bytes this run needs (the catalog's rule of thumb for the method, plus a distillation teacher); batches
    padded to ``seq_len`` tokens (the maximum length when not given)."""
    from ..catalog import estimate_memory

    est = estimate_memory(
        info.n_params,
        info.n_layers,
        info.hidden_size,
        info.vocab_size,
        batch=cfg.batch_size,
        seq_len=seq_len or cfg.max_length,
        gpu=gpu,
    )
    need = {"full": est.full, "lora": est.lora, "dora": int(est.lora * 1.15), "qlora": est.qlora}[cfg.method]
    return need + (info.n_params * 4 if cfg.kd else 0)
