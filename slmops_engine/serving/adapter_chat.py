"""Chat with a multi-adapter ONNX model in this process (onnxruntime-genai), switching its LoRA adapters per answer.

Foundry Local cannot load a model whose adapters are graph inputs, so such a model is not deployed; onnxruntime-genai
switches adapters itself (`Adapters` + `Generator.set_active_adapter`), and this is how the operator compares them."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

from ..errors import ConfigError
from ..models import ModelVariant
from .chat import StreamedAnswer


class AdapterModel:
    """One loaded ONNX model with each of its adapter files loaded under its name (none: a plain model)."""

    def __init__(self, path: Path, adapters: list[dict] | None = None) -> None:
        import onnxruntime_genai as og

        self.og = og
        self.model = og.Model(str(path))
        self.tokenizer = og.Tokenizer(self.model)
        self.adapters = og.Adapters(self.model) if adapters else None
        self.names: list[str] = []
        for a in adapters or []:
            self.adapters.load(str(path / a["file"]), a["name"])
            self.names.append(a["name"])

    @classmethod
    def from_variant(cls, variant: ModelVariant) -> AdapterModel:
        adapters = variant.metrics.get("adapters") or []
        if variant.format != "onnx" or not adapters:
            raise ConfigError(f"{variant.name} is not a multi-adapter ONNX model", "Convert a base with adapters.")
        return cls(Path(variant.artifact_path), adapters)


class AdapterAnswer(StreamedAnswer):
    """Iterate for the answer's text pieces; afterwards `tokens`, `ttft_ms`, `tokens_per_s` and `text` are set."""

    def __init__(self, m: AdapterModel, messages: list[dict], adapter: str | None, **options) -> None:
        if adapter is not None and adapter not in m.names:
            raise ConfigError(f"No adapter named {adapter}", f"Choose one of: {', '.join(m.names)}.")
        super().__init__()
        self.m, self.messages, self.adapter = m, messages, adapter
        self.max_tokens = int(options.get("max_tokens") or 256)
        self.temperature = float(options.get("temperature") or 0.0)

    def __iter__(self) -> Iterator[str]:
        og, m = self.m.og, self.m
        prompt = m.tokenizer.apply_chat_template(json.dumps(self.messages), add_generation_prompt=True)
        ids = m.tokenizer.encode(prompt)
        params = og.GeneratorParams(m.model)
        search = {"max_length": len(ids) + self.max_tokens, "do_sample": self.temperature > 0}
        if self.temperature > 0:
            search["temperature"] = self.temperature
        params.set_search_options(**search)
        gen = og.Generator(m.model, params)
        if self.adapter is not None:
            gen.set_active_adapter(m.adapters, self.adapter)
        stream = m.tokenizer.create_stream()
        t0 = time.perf_counter()
        gen.append_tokens(ids)
        try:
            while not gen.is_done():
                gen.generate_next_token()
                piece = stream.decode(int(gen.get_next_tokens()[0]))
                self.tokens += 1
                if self.ttft_ms is None:
                    self.ttft_ms = (time.perf_counter() - t0) * 1000
                if piece:
                    self.text += piece
                    yield piece
        finally:
            self.latency_ms = (time.perf_counter() - t0) * 1000


def load_adapter_model(variant_id: int) -> AdapterModel:
    from ..db import get_or_raise

    return AdapterModel.from_variant(
        get_or_raise(ModelVariant, variant_id, "Model variant", "Pick a model on the Chat page.")
    )


def multi_adapter_variants(project_id: int) -> list[ModelVariant]:
    """ONNX models with switchable adapters, newest first."""
    from ..variants import list_variants

    return [v for v in list_variants(project_id, stage="convert") if v.format == "onnx" and v.metrics.get("adapters")]


def adapter_chat(m: AdapterModel, messages: list[dict], adapter: str | None, **options) -> AdapterAnswer:
    """A streaming answer with `adapter` switched on (None: the base model alone)."""
    return AdapterAnswer(m, messages, adapter, **options)
