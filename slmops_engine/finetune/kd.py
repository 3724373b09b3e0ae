"""Logit-level distillation: cross-entropy mixed with KL divergence to a local teacher's token distribution,
on the response tokens only. The teacher must share the student's tokenizer."""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812 - the conventional name
from transformers import Trainer

from .data import IGNORE


def kd_loss(student_logits, teacher_logits, labels, temperature: float) -> torch.Tensor:
    """KL(teacher || student) per response token, scaled by T² so gradients keep their size."""
    vocab = min(student_logits.shape[-1], teacher_logits.shape[-1])
    s = student_logits[:, :-1, :vocab]
    t = teacher_logits[:, :-1, :vocab]
    mask = labels[:, 1:] != IGNORE
    if not mask.any():
        return student_logits.new_zeros(())
    log_p = F.log_softmax(s[mask].float() / temperature, dim=-1)
    q = F.softmax(t[mask].float() / temperature, dim=-1)
    return F.kl_div(log_p, q, reduction="batchmean") * temperature**2


class KDTrainer(Trainer):
    def __init__(self, *args, teacher=None, temperature: float = 2.0, alpha: float = 0.5, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.teacher = teacher.eval()
        for p in self.teacher.parameters():
            p.requires_grad_(False)
        self.temperature, self.alpha = temperature, alpha
        self._parts: dict[str, list[float]] = {"ce_loss": [], "kl_loss": []}

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        outputs = model(**inputs)
        ce = outputs.loss
        with torch.no_grad():
            t_logits = self.teacher(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]).logits
        kl = kd_loss(outputs.logits, t_logits.to(outputs.logits.device), inputs["labels"], self.temperature)
        loss = (1 - self.alpha) * ce + self.alpha * kl
        if model.training:
            self._parts["ce_loss"].append(float(ce.detach()))
            self._parts["kl_loss"].append(float(kl.detach()))
        return (loss, outputs) if return_outputs else loss

    def log(self, logs, *args, **kwargs):
        if "loss" in logs and self._parts["ce_loss"]:
            for k, v in self._parts.items():
                logs[k] = sum(v) / len(v)
                v.clear()
        super().log(logs, *args, **kwargs)
