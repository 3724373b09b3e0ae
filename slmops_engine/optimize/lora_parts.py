"""A LoRA adapter's matrices, read for the grid route: a LoRA fine-tune of a 4-bit model is that model's 4-bit
layers plus a low-rank change W' = W + s·B·A per layer, so the int4 model can keep both — the base layers on their
own grid and the change as a small product beside them — instead of rounding the merged weights afresh."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_KEY = re.compile(r"layers\.(\d+)\.(.+)\.lora_([AB])\.weight$")


@dataclass(frozen=True)
class LoraParts:
    """Per (layer, module such as 'self_attn.q_proj'): A [r, in] and s·B [out, r]."""

    a: dict[tuple[int, str], np.ndarray]
    b: dict[tuple[int, str], np.ndarray]

    def of(self, layer: int, modules: list[str], outs: list[int]) -> tuple[np.ndarray, np.ndarray] | None:
        """For one product over the modules' outputs stacked (fused q/k/v, gate/up; ``outs`` their sizes): A of
        those with an adapter stacked [R, in], and B block-diagonal [sum(outs), R] (zero rows for a module without
        one); None when none has an adapter."""
        pairs = [(self.a.get((layer, m)), self.b.get((layer, m))) for m in modules]
        if any((a is None) != (b is None) for a, b in pairs):
            raise ValueError(f"the adapter of layer {layer} has an A without its B (or the reverse)")
        if all(a is None for a, _ in pairs):
            return None
        a_all = np.concatenate([a for a, _ in pairs if a is not None])
        b_all = np.zeros((sum(outs), a_all.shape[0]), np.float32)
        row = col = 0
        for (_, b), out in zip(pairs, outs, strict=True):
            if b is not None:
                b_all[row : row + out, col : col + b.shape[1]] = b
                col += b.shape[1]
            row += out
        return a_all, b_all


def lora_scale(adapter_dir: Path) -> float:
    """The adapter's scale s (alpha / r, or alpha / sqrt(r) for rank-stabilised LoRA), from its config alone;
    ValueError with the reason for an adapter the grid route cannot carry."""
    cfg = json.loads((Path(adapter_dir) / "adapter_config.json").read_text())
    if cfg.get("peft_type") != "LORA":
        raise ValueError(f"the adapter is {cfg.get('peft_type')}, not LoRA")
    for key in ("use_dora", "modules_to_save", "rank_pattern", "alpha_pattern", "layers_to_transform"):
        if cfg.get(key):
            raise ValueError(f"the adapter uses {key}")
    r, alpha = int(cfg["r"]), float(cfg["lora_alpha"])
    return alpha / np.sqrt(r) if cfg.get("use_rslora") else alpha / r


def load_lora(adapter_dir: Path) -> LoraParts:
    """Read a PEFT LoRA adapter folder; ValueError with the reason for one the grid route cannot carry."""
    from safetensors.numpy import load_file

    scale = lora_scale(adapter_dir)
    a: dict[tuple[int, str], np.ndarray] = {}
    b: dict[tuple[int, str], np.ndarray] = {}
    for name, w in load_file(str(Path(adapter_dir) / "adapter_model.safetensors")).items():
        m = _KEY.search(name)
        if m is None:
            raise ValueError(f"the adapter changes {name}, outside the transformer layers")
        layer, module, which = int(m.group(1)), m.group(2), m.group(3)
        (a if which == "A" else b)[(layer, module)] = (
            w.astype(np.float32) if which == "A" else (w * scale).astype(np.float32)
        )
    return LoraParts(a=a, b=b)
