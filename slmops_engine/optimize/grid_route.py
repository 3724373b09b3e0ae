"""Whether the grid route fits a model: one that is 4-bit already (a GGUF Q4_1 such as the bundled SmolLM2), or a
LoRA fine-tune of one (its base kept on the grid, its adapter's change carried beside it). Any other model is
refused: on the merged weights of a fine-tune, rounding each block to its own grid rounds most of the fine-tune's
change away (measured on the demo: route accuracy 6% with grid on the merged weights, 95% with round to nearest)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..models import ModelVariant
from .offsets import is_four_bit, share_on_grid


@dataclass(frozen=True)
class GridRoute:
    """How the grid route keeps a model: ``share`` of its layers' blocks on a 4-bit grid (of the base's, for a
    fine-tune); ``base`` and ``adapter`` set for a LoRA fine-tune of a 4-bit model."""

    share: float
    base: Path | None = None
    adapter: Path | None = None

    def describe(self) -> str:
        if self.adapter is None:
            return (
                f"This model's layers are 4-bit already ({self.share:.0%} of their blocks lie on a 4-bit grid, as "
                "a GGUF Q4_1 model's do)"
            )
        return (
            f"This is a LoRA fine-tune of a 4-bit model ({self.share:.0%} of the base's blocks lie on a 4-bit "
            "grid): the base's layers are kept on their grid and the fine-tune's change is carried beside them"
        )


def grid_route(v: ModelVariant) -> GridRoute | str:
    """The way the grid route keeps ``v``, or why it cannot (a sentence)."""
    try:
        share = share_on_grid(Path(v.artifact_path))
    except (OSError, ValueError) as exc:
        return f"Its weights could not be read ({exc})."
    if is_four_bit(share):
        return GridRoute(share)
    config = v.config or {}
    base, adapter = config.get("base_path"), config.get("adapter_path")
    why = f"Only {share:.0%} of this model's layers lie on a 4-bit grid"
    if v.stage != "finetune" or not base or not adapter:
        return why + ", and it is not a LoRA fine-tune of a model that does."
    try:
        base_share = share_on_grid(Path(base))
        if not is_four_bit(base_share):
            return why + f", nor do its base's ({base_share:.0%})."
        from .lora_parts import lora_scale

        lora_scale(Path(adapter))
    except (OSError, ValueError) as exc:
        return why + f", and its adapter cannot be carried beside the base ({exc})."
    return GridRoute(base_share, Path(base), Path(adapter))
