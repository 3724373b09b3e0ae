"""Save what a fine-tuning run made: the adapter (for multi-adapter serving) and a merged, standalone model."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

from ..naming import finetune_name
from ..settings import get_settings
from ..variants import register
from .config import FinetuneConfig


def _base_dtype(path: Path):
    import torch

    cfg = json.loads((path / "config.json").read_text())
    name = cfg.get("dtype") or cfg.get("torch_dtype") or "float32"
    return getattr(torch, name, torch.float32)


def save_outputs(
    cfg: FinetuneConfig, model, tok, base_path: Path, base, dataset, job_id, *, metrics: dict, command: str
):
    from transformers import AutoModelForCausalLM

    out = get_settings().models_dir / f"ft-{job_id or uuid.uuid4().hex[:8]}-{cfg.adapter_name}"
    shutil.rmtree(out, ignore_errors=True)
    merged = out / "merged"
    adapter_path = None
    if cfg.uses_adapter:
        adapter_path = out / "adapter"
        model.save_pretrained(str(adapter_path))
        if (adapter_path / cfg.adapter_name / "adapter_config.json").exists():
            adapter_path = adapter_path / cfg.adapter_name  # PEFT keeps a named adapter in its own subfolder
        # Merge onto a fresh copy of the base in its own dtype (a 4-bit QLoRA base would lose precision).
        from peft import PeftModel

        fresh = AutoModelForCausalLM.from_pretrained(str(base_path), dtype=_base_dtype(base_path))
        merged_model = PeftModel.from_pretrained(fresh, str(adapter_path), adapter_name=cfg.adapter_name)
        merged_model = merged_model.merge_and_unload()
    else:
        merged_model = model.to(_base_dtype(base_path))
    merged_model.save_pretrained(str(merged))
    tok.save_pretrained(str(merged))
    size = sum(f.stat().st_size for f in merged.glob("*.safetensors"))
    name = cfg.output_name or finetune_name(base.name, cfg.method, dataset.name)
    config = {
        **cfg.model_dump(mode="json"),
        "adapter_path": str(adapter_path) if adapter_path else None,
        "command": command,
        "base_path": str(base_path),
    }
    variant = register(
        project_id=cfg.project_id if cfg.project_id is not None else dataset.project_id,
        name=name,
        parent_id=base.id,
        precision=str(_base_dtype(base_path)).removeprefix("torch."),
        config=config,
        artifact_path=str(merged),
        size_bytes=size,
        metrics=metrics,
        job_id=job_id,
    )
    return variant, merged
