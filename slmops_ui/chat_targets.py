"""What the Chat page can talk to: a running deployment (through its endpoint), or a multi-adapter ONNX model in
the app with one of its adapters switched on (onnxruntime-genai; Foundry Local cannot load those)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import streamlit as st

from slmops_engine.models import Deployment, ModelVariant
from slmops_engine.serving.adapter_chat import AdapterModel, adapter_chat, load_adapter_model
from slmops_engine.serving.chat import chat

BASE = "(no adapter: the base model)"


@dataclass(frozen=True)
class Target:
    key: str  # keys the conversation's answers: "d12", or "v7:a3-billing"
    label: str
    open: Callable[[list[dict], dict], object]  # -> an iterable answer with text, tokens, ttft_ms, tokens_per_s
    temperature: float = 0.2


@st.cache_resource(max_entries=2, show_spinner="Loading the model and its adapters…")
def _adapter_model(variant_id: int, path: str) -> AdapterModel:
    return load_adapter_model(variant_id)  # `path` keys the cache: a rebuilt model is loaded afresh


def deployment_target(d: Deployment) -> Target:
    return Target(
        key=f"d{d.id}",
        label=f"#{d.id} {d.name}",
        open=lambda messages, options: chat(d, messages, **options),
        temperature=float(d.generation.get("temperature", 0.2)),
    )


def adapter_target(v: ModelVariant, adapter: str | None) -> Target:
    def start(messages: list[dict], options: dict):
        return adapter_chat(_adapter_model(v.id, v.artifact_path), messages, adapter, **options)

    # Greedy by default: two adapters compared on the same message differ by what they learned, not by chance.
    label = f"{v.name} · {adapter or 'base model'}"
    return Target(key=f"v{v.id}:{adapter or 'base'}", label=label, open=start, temperature=0.0)


def pick_target(
    deployments: list[Deployment], multi: list[ModelVariant], key: str, label: str, second: bool = False
) -> Target:
    """A deployment, or a multi-adapter model plus the adapter to switch on (`second`: another one by default)."""
    options: dict[str, tuple[str, object]] = {f"d{d.id}": (f"#{d.id} {d.name} · deployed", d) for d in deployments}
    options |= {f"v{v.id}": (f"{v.name} · in the app", v) for v in multi}
    keys = list(options)
    pick = st.selectbox(
        label, keys, index=1 if second and len(keys) > 1 else 0, format_func=lambda k: options[k][0], key=key
    )
    item = options[pick][1]
    if isinstance(item, Deployment):
        return deployment_target(item)
    names = [a["name"] for a in item.metrics.get("adapters") or []]
    adapter = st.radio(
        "Adapter",
        [BASE, *names],
        index=min(2 if second and len(keys) == 1 else 1, len(names)),
        key=f"{key}_{item.id}_adapter",
        horizontal=True,
        help="Switched on for the next answer, without loading another model.",
    )
    return adapter_target(item, None if adapter == BASE else adapter)
