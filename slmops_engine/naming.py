"""Automatic names that stay short enough for a select box: each made from its pieces' own short names, never
from a chain of ever longer parent names; the details (teacher, settings, route) live in the record itself."""

from __future__ import annotations

import re

_TRAILING_NOTE = re.compile(r"(\s*\([^()]*\))+$")
LIMIT = 32


def clip(text: str, limit: int = LIMIT) -> str:
    """The text, cut at a word with an ellipsis when it is longer than ``limit`` characters."""
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0] if " " in text[: limit - 1] else text[: limit - 1]
    return cut.rstrip(" ·-,") + "…"


def core(name: str) -> str:
    """A name without its trailing notes in brackets: 'SmolLM2-135M-Instruct (bundled)' → 'SmolLM2-135M-Instruct',
    'Support tickets (sample) (reviewed)' → 'Support tickets'. The name itself when it is nothing but a note."""
    return _TRAILING_NOTE.sub("", name).strip() or name.strip()


def answers_name(dataset_name: str, teacher: str) -> str:
    """'Support tickets · answers by gpt-4o-mini'."""
    return f"{clip(core(dataset_name))} · answers by {clip(teacher, 24)}"


def finetune_name(base_name: str, method: str, data_name: str) -> str:
    """'SmolLM2-135M-Instruct · lora · Support tickets'."""
    data = core(data_name).split(" · answers by ")[0]
    return f"{clip(core(base_name))} · {method} · {clip(data, 28)}"


def conversion_name(source_name: str, precision: str, adapters: int = 0) -> str:
    """'SmolLM2-135M-Instruct · lora · Support tickets · ONNX int4'; the int4 route is in the record, not the name."""
    more = f" · {adapters} adapter{'s' if adapters > 1 else ''}" if adapters else ""
    return f"{source_name} · ONNX {precision}{more}"
