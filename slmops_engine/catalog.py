"""The student catalog, memory estimates for training and inference, and how they fit this machine."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .sysinfo import GiB, SystemInfo

Fit = Literal["green", "amber", "red"]
BUNDLED_ID = "bundled:SmolLM2-135M-Instruct"


class CatalogModel(BaseModel):
    model_config = ConfigDict(frozen=True, protected_namespaces=())
    id: str = Field(description="Hugging Face model id")
    name: str
    params_b: float = Field(description="Parameters, billions")
    license: str
    context_length: int
    n_layers: int
    hidden_size: int
    vocab_size: int
    template: Literal["chatml", "llama3", "phi"] = "chatml"
    gated: bool = False
    notes: str = ""


CATALOG: list[CatalogModel] = [
    CatalogModel(
        id="HuggingFaceTB/SmolLM2-135M-Instruct",
        name="SmolLM2 135M Instruct",
        params_b=0.135,
        license="Apache-2.0",
        context_length=8192,
        n_layers=30,
        hidden_size=576,
        vocab_size=49152,
        notes="Bundled with the app for offline use.",
    ),
    CatalogModel(
        id="HuggingFaceTB/SmolLM2-360M-Instruct",
        name="SmolLM2 360M Instruct",
        params_b=0.362,
        license="Apache-2.0",
        context_length=8192,
        n_layers=32,
        hidden_size=960,
        vocab_size=49152,
    ),
    CatalogModel(
        id="HuggingFaceTB/SmolLM2-1.7B-Instruct",
        name="SmolLM2 1.7B Instruct",
        params_b=1.71,
        license="Apache-2.0",
        context_length=8192,
        n_layers=24,
        hidden_size=2048,
        vocab_size=49152,
    ),
    CatalogModel(
        id="Qwen/Qwen2.5-0.5B-Instruct",
        name="Qwen2.5 0.5B Instruct",
        params_b=0.494,
        license="Apache-2.0",
        context_length=32768,
        n_layers=24,
        hidden_size=896,
        vocab_size=151936,
    ),
    CatalogModel(
        id="Qwen/Qwen2.5-1.5B-Instruct",
        name="Qwen2.5 1.5B Instruct",
        params_b=1.54,
        license="Apache-2.0",
        context_length=32768,
        n_layers=28,
        hidden_size=1536,
        vocab_size=151936,
    ),
    CatalogModel(
        id="meta-llama/Llama-3.2-1B-Instruct",
        name="Llama 3.2 1B Instruct",
        params_b=1.24,
        license="Llama 3.2 Community",
        context_length=131072,
        n_layers=16,
        hidden_size=2048,
        vocab_size=128256,
        template="llama3",
        gated=True,
        notes="Gated: accept the licence on the hub.",
    ),
    CatalogModel(
        id="microsoft/Phi-3.5-mini-instruct",
        name="Phi-3.5 mini Instruct",
        params_b=3.82,
        license="MIT",
        context_length=131072,
        n_layers=32,
        hidden_size=3072,
        vocab_size=32064,
        template="phi",
    ),
    CatalogModel(
        id="microsoft/Phi-4-mini-instruct",
        name="Phi-4 mini Instruct",
        params_b=3.84,
        license="MIT",
        context_length=131072,
        n_layers=32,
        hidden_size=3072,
        vocab_size=200064,
        template="phi",
    ),
]


def find_model(model_id: str) -> CatalogModel | None:
    return next((m for m in CATALOG if m.id == model_id), None)


class MemoryEstimate(BaseModel):
    """Bytes needed, by use. Training assumes the given batch and sequence length."""

    full: int
    lora: int
    qlora: int
    int4_inference: int


RUNTIME_OVERHEAD = int(1.0 * GiB)  # Python, torch and tokenizer before any weight is loaded


def estimate_memory(
    n_params: float, n_layers: int, hidden: int, vocab: int, *, batch: int = 4, seq_len: int = 512, gpu: bool = False
) -> MemoryEstimate:
    """Rule-of-thumb estimate (within ~30%): weights + gradients + Adam states + activations + logits.

    On CPU training runs in fp32 (4 bytes a weight); on GPU in bf16 with fp32 master weights. Activations follow
    ~34·hidden bytes per token per layer in 16-bit (doubled in fp32); the loss keeps ~3 fp32 copies of the logits.
    Calibrated against SmolLM2-135M LoRA on a 2-core CPU (batch 4, length 512: ~4-5 GB resident)."""
    w = 2 if gpu else 4
    tokens = batch * seq_len
    act = int(tokens * n_layers * hidden * 34 * (w / 2))
    logits = tokens * vocab * 4 * 3
    weights = int(n_params * w)
    full = weights + int(n_params * (4 + 8 + (4 if gpu else 0))) + act + logits + RUNTIME_OVERHEAD
    lora = weights + act + logits + RUNTIME_OVERHEAD + int(n_params * 0.02 * 16)
    qlora = int(n_params * 0.55) + act + logits + RUNTIME_OVERHEAD + int(n_params * 0.02 * 16)
    kv = 2 * n_layers * 2048 * hidden * 2 // 4  # 2k-token cache, grouped-query attention assumed (÷4)
    int4 = int(n_params * 0.6) + kv + int(0.3 * GiB)
    return MemoryEstimate(full=full, lora=lora, qlora=qlora, int4_inference=int4)


def estimate_for(model: CatalogModel, **kw) -> MemoryEstimate:
    return estimate_memory(model.params_b * 1e9, model.n_layers, model.hidden_size, model.vocab_size, **kw)


def fit(needed: int, available: int) -> Fit:
    """green: comfortable (≤ 60% of what is free), amber: tight (≤ 90%), red: will not fit."""
    if needed <= 0.6 * available:
        return "green"
    if needed <= 0.9 * available:
        return "amber"
    return "red"


def fit_report(est: MemoryEstimate, system: SystemInfo) -> dict[str, Fit]:
    """How each use fits this machine; QLoRA needs a CUDA GPU and is red without one."""
    budget = system.train_memory_budget
    return {
        "full": fit(est.full, budget),
        "lora": fit(est.lora, budget),
        "qlora": fit(est.qlora, budget) if system.has_cuda else "red",
        "int4_inference": fit(est.int4_inference, system.ram_available),
    }
