"""Distillation stage 2: fine-tune the student (LoRA, DoRA, full, QLoRA; optional logit distillation)."""
