"""A hand-over bundle of one ONNX model: one zip with the model folder ready for Foundry Local (its
`inference_model.json` with the prompt template), a model card (base model and license, training data, settings,
evaluation, intended use and limits) and the evaluation report. Written to a temporary file, then renamed."""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path

from sqlmodel import select

from ..db import get_or_raise, session_scope
from ..errors import ConfigError
from ..models import Deployment, ModelVariant, Project
from ..serving.placement import PUBLISHER, VERSION, check_servable, model_id, model_name
from ..serving.templates import derive, to_chat_template, validate
from .labels import TABLE_ORDER, fmt, label
from .labels import size as fmt_size
from .lineage import MODEL_STEPS, base_model, model_chain, variant_lineage
from .result import EvaluationResult

STORED = {".onnx", ".data", ".bin", ".safetensors"}  # weights barely compress: store them, save the time
DATA_STEPS = ("Dataset", "Split", "Teacher answers", "Review")


def onnx_variant(variant_id: int) -> ModelVariant:
    v = get_or_raise(ModelVariant, variant_id, "Model variant", "Pick an ONNX model on the Evaluate page.")
    if v.format != "onnx":
        raise ConfigError(
            f"{v.name} is not an ONNX model, so it cannot be exported for Foundry Local",
            "Convert it on the Optimize page first, then export the converted model.",
        )
    check_servable(Path(v.artifact_path))
    return v


def prompt_template(v: ModelVariant) -> tuple[dict[str, str], bool]:
    """(the four prompt pieces, whether they were edited): a deployment's own template wins over the derived one."""
    with session_scope() as s:
        dep = s.exec(select(Deployment).where(Deployment.variant_id == v.id)).first()
    edited = validate(dep.prompt_template) if dep is not None and dep.prompt_template else None
    try:
        derived = derive(Path(v.artifact_path))
    except ConfigError:
        if edited is None:
            raise
        return edited, True
    return (edited, edited != derived) if edited is not None else (derived, False)


def _md(value) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _steps(steps: list[dict]) -> str:
    lines = []
    for i, s in enumerate(steps, start=1):
        lines.append(f"{i}. **{s['step']}**: {s['name']} ({s['detail']})")
        lines += [f"   - {k}: {v}" for k, v in (s.get("settings") or {}).items()]
    return "\n".join(lines)


def _evaluation(v: ModelVariant, evaluation: EvaluationResult | None) -> str:
    if evaluation is None:
        return "Not evaluated in this bundle: compare it on the Evaluate page and export again to include results."
    rows = [r for r in evaluation.ok_variants if r.variant_id == v.id]
    # the model itself first; a deployment of it (id 'deployment:N') measured the same weights through Foundry Local
    row = next((r for r in rows if r.is_ref(v.id)), rows[0] if rows else None)
    if row is None:
        return "This model was not among the variants of the evaluation that came with it."
    where = (
        f"On {evaluation.rows} held-out rows (the {evaluation.split} part of dataset "
        f"{evaluation.dataset_id}), answered by {row.name}:"
    )
    table = ["| Measure | Value |", "|---|---|"] + [
        f"| {_md(label(m))} | {_md(fmt(m, row.metric(m)))} |" for m in TABLE_ORDER if row.metric(m) is not None
    ]
    rec, head = evaluation.recommendation, evaluation.headline
    said = [
        *([rec.sentence] if rec is not None and row.is_ref(rec.id) else []),
        *([head.sentence] if head is not None and row.is_ref(head.student_id) else []),
    ]
    return "\n".join([where, "", *table, "", *[f"> {s}" for s in said if s]])


def model_card(
    v: ModelVariant, *, project: Project | None, steps: list[dict], evaluation: EvaluationResult | None
) -> str:
    """MODEL_CARD.md: what the model is, where it comes from, how it was made and measured, what it is for."""
    chain = model_chain(v.id)
    base = next((m for m in chain if m.stage == "import"), None)
    base_name, license_ = base_model(base) if base is not None else ("not recorded", "see the base model's card")
    name = model_name(v.id, v.name)
    data = [s for s in steps if s["step"] in DATA_STEPS]
    made = [s for s in steps if s["step"] in MODEL_STEPS.values() or s["step"] == "Deployment"]
    goal = project.goal.strip().rstrip(".") if project is not None and project.goal.strip() else ""
    goal_line = f"The project's goal: {goal}." if goal else "The task its training data shows (see Training data)."
    facts = [
        ("Foundry Local model id", model_id(name)),
        ("Format", f"ONNX for onnxruntime-genai, {v.precision or 'unknown precision'}"),
        ("Size", fmt_size(v.size_bytes) if v.size_bytes else "not recorded"),
        ("Project", project.name if project is not None else "none"),
        ("Made", f"{v.created_at:%Y-%m-%d} (model variant {v.id})"),
        ("Base model", base_name),
        ("License", f"{license_} (the base model's license)"),
    ]
    data_md = _steps(data) if data else "No training data recorded: this is the base model, converted as it is."
    return f"""# {v.name}

A small language model made with SLMOps Studio{f" for: {goal}" if goal else ""}.

| | |
|---|---|
{chr(10).join(f"| {k} | {_md(val)} |" for k, val in facts)}

## Base model and license

The weights derive from **{base_name}**, licensed **{license_}**. A fine-tuned model carries its base model's
license terms; answers written by a teacher model may also carry the teacher provider's terms of use.

## Training data

{data_md}

## How it was made

{_steps(made) if made else "No steps recorded."}

## Evaluation

{_evaluation(v, evaluation)}

## Intended use

- {goal_line}
- It runs on a laptop or server CPU, in Foundry Local or with onnxruntime-genai.
- Prompt it through the template in `model/inference_model.json` (derived from the model's chat template).

## Limits

- A small model: it can be confidently wrong. Check its answers wherever a mistake matters, and keep a person in
  the loop for decisions about people, money, health or the law.
- Its quality was measured only on the held-out rows above; other data (new topics, other wording, other
  languages) may score lower. Evaluate it on your own data before relying on it.
- {v.precision or "Quantized"} weights answer slightly differently from the PyTorch model they came from.
- It knows only what its base model and its training data taught it; it has no live information.

## How to run it

- **Foundry Local**: copy the `model/` folder to `<Foundry Local model cache>/{PUBLISHER}/{name}-{VERSION}/`;
  it is listed as `{model_id(name)}`.
- **onnxruntime-genai** (Python): `import onnxruntime_genai as og; model = og.Model("model")`.
"""


def _project(v: ModelVariant, evaluation: EvaluationResult | None) -> Project | None:
    pid = v.project_id if v.project_id is not None else (evaluation.project_id if evaluation is not None else None)
    if pid is None:
        return None
    with session_scope() as s:
        return s.get(Project, pid)


def _write(zf: zipfile.ZipFile, src: Path, v: ModelVariant, template: dict, custom: bool) -> None:
    for f in sorted(p for p in src.rglob("*") if p.is_file()):
        rel = f.relative_to(src).as_posix()
        if rel == "inference_model.json" or (custom and rel == "chat_template.jinja"):
            continue  # written fresh below
        kind = zipfile.ZIP_STORED if f.suffix in STORED else zipfile.ZIP_DEFLATED
        zf.write(f, f"model/{rel}", compress_type=kind)
    meta = {"Name": model_id(model_name(v.id, v.name)), "PromptTemplate": template}
    zf.writestr("model/inference_model.json", json.dumps(meta, indent=2))
    if custom:  # like a deployment: the operator's edited template is the one Foundry Local uses
        zf.writestr("model/chat_template.jinja", to_chat_template(template))


def export_bundle(variant_id: int, out: Path, *, evaluation: EvaluationResult | None = None) -> Path:
    """Zip an ONNX model variant for hand-over; ``out`` is the zip's path, or a folder to put it in. Returns the
    zip's path. Nothing half-written is ever left under that name."""
    v = onnx_variant(variant_id)
    src = Path(v.artifact_path)
    template, custom = prompt_template(v)
    out = Path(out)
    target = out / f"{model_name(v.id, v.name)}.zip" if out.is_dir() else out
    target.parent.mkdir(parents=True, exist_ok=True)
    project = _project(v, evaluation)
    steps = variant_lineage(v.id, eval_dataset_id=evaluation.dataset_id if evaluation is not None else None)
    card = model_card(v, project=project, steps=steps, evaluation=evaluation)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.chmod(0o644)  # mkstemp makes it private; the bundle is meant to be handed over
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            _write(zf, src, v, template, custom)
            zf.writestr("MODEL_CARD.md", card)
            if evaluation is not None:
                from .report import render_report

                zf.writestr("report.html", render_report(evaluation, project=project, lineage=steps))
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


__all__ = ["export_bundle", "model_card", "onnx_variant", "prompt_template"]
