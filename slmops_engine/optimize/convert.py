"""The conversion run: build, verify (files, vocabulary, a real generation), measure, record the variant."""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from pathlib import Path

from sqlmodel import select

from ..db import get_or_raise, session_scope
from ..errors import ConfigError, ModelLoadError
from ..models import ModelVariant
from ..naming import conversion_name
from ..settings import get_settings
from ..stage_api import Issue, Reporter
from .adapters import build_multi_adapter, check_adapters
from .builder import generate, run_builder, tune_for_this_machine, verify_outputs
from .config import GPU_ONLY, ConvertConfig
from .routes import route_name


def source_variant(variant_id: int) -> ModelVariant:
    v = get_or_raise(ModelVariant, variant_id, "Model variant", "Pick one on the Optimize page.")
    if v.format != "hf":
        raise ConfigError(f"{v.name} is already {v.format}", "Convert the Hugging Face model it came from.")
    return v


def source_adapter(variant_id: int) -> ModelVariant:
    return get_or_raise(ModelVariant, variant_id, "Adapter variant", "Pick the adapters on the Optimize page.")


def preflight(cfg: ConvertConfig) -> list[Issue]:
    from ..errors import SlmopsError
    from ..model_folder import inspect_model_folder
    from ..sysinfo import system_info

    issues: list[Issue] = []
    try:
        inspect_model_folder(source_variant(cfg.variant_id).artifact_path)
    except SlmopsError as exc:
        issues.append(Issue(title=exc.message, detail=exc.hint))
    if cfg.adapter_ids:
        try:
            base, adapters = source_variant(cfg.variant_id), [source_adapter(i) for i in cfg.adapter_ids]
            title = "These adapters cannot share one ONNX base"
            issues += [Issue(title=title, detail=p) for p in check_adapters(base, adapters)]
        except SlmopsError as exc:
            issues.append(Issue(title=exc.message, detail=exc.hint))
    if cfg.precision == "int4" and cfg.int4_method == "grid" and not issues:
        issues += _grid_issues(source_variant(cfg.variant_id))
    if (cfg.precision in GPU_ONLY or cfg.execution_provider == "cuda") and not system_info().has_cuda:
        issues.append(
            Issue(
                title=f"{cfg.precision} on {cfg.execution_provider} needs a CUDA GPU",
                detail="On this machine choose fp32, int8 or int4 for the CPU.",
            )
        )
    return issues


def _grid_issues(src: ModelVariant) -> list[Issue]:
    """The grid route keeps a 4-bit model, or a LoRA fine-tune of one; on other weights it would round them."""
    from .grid_route import grid_route

    route = grid_route(src)
    if not isinstance(route, str):
        return []
    return [
        Issue(
            title="Grid rounding does not fit this model",
            detail=f"{route} Grid rounding is for a model that was 4-bit already, or a LoRA fine-tune of one. On "
            "other weights it rounds most of a fine-tune's changes back to the base (measured on the demo: route "
            "accuracy 95% with round to nearest, 6% with grid). Choose round to nearest or k-quant.",
        )
    ]


def trained_on(v: ModelVariant) -> list[str]:
    """The examples a fine-tune learned from (the train part of its dataset), as plain texts; none for a base model
    or when that data is gone."""
    from ..data.store import load_dataset_dict
    from ..errors import SlmopsError

    dataset_id = (v.config or {}).get("dataset_id") if v.stage == "finetune" else None
    if dataset_id is None:
        return []
    try:
        parts = load_dataset_dict(int(dataset_id))
    except SlmopsError:
        return []
    if "train" not in parts:
        return []
    return [" ".join(str(r.get(c) or "") for c in ("system", "prompt", "response")) for r in parts["train"]]


def _folder_size(path: Path) -> int:
    """The base model's files (adapter files are counted on their own)."""
    return sum(f.stat().st_size for f in path.iterdir() if f.is_file())


def convert(cfg: ConvertConfig, reporter: Reporter, job_id: int | None = None) -> dict:
    src_variant = source_variant(cfg.variant_id)
    route = None  # how the grid route keeps this model, or why it cannot
    if cfg.precision == "int4" and cfg.int4_method in ("auto", "grid"):
        from .grid_route import grid_route

        route = grid_route(src_variant)
    cfg = cfg.resolved(grid_fits=route is not None and not isinstance(route, str))
    src = Path(src_variant.artifact_path)
    from ..model_folder import inspect_model_folder

    inspect_model_folder(src)  # refuses a folder without tokenizer files before the builder makes a 1-token one
    out = get_settings().models_dir / f"onnx-{job_id or uuid.uuid4().hex[:8]}-{cfg.precision}"
    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    cache = (reporter.run_dir or staging) / "builder-cache"
    log = (reporter.run_dir or get_settings().runs_dir) / "builder.log"
    reporter.progress(0.05, f"Converting to ONNX {cfg.precision}")
    t0 = time.perf_counter()
    adapters: list[dict] = []
    if cfg.adapter_ids:
        found = [source_adapter(i) for i in cfg.adapter_ids]
        if problems := check_adapters(src_variant, found):
            raise ConfigError("These adapters cannot share one ONNX base", " ".join(problems))
        work = Path(tempfile.mkdtemp(prefix="adapters-", dir=reporter.run_dir or get_settings().runs_dir))
        try:
            adapters = build_multi_adapter(cfg, src, staging, work, log, found, reporter.progress)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    else:
        run_builder(cfg, src, staging, cache, log)
    grid_facts: dict = {}
    if cfg.precision == "int4" and cfg.int4_method == "grid":
        from .offsets import keep_block_offsets

        if isinstance(route, str):
            raise ConfigError("Grid rounding does not fit this model", route + " Use round to nearest (rtn).")
        reporter.progress(0.5, "Storing each block on its own grid")
        grid_facts = keep_block_offsets(staging, src, route.base, route.adapter)
        if not grid_facts["grid_nodes"]:
            raise ModelLoadError(
                "The grid route found none of the model's layers", "Use round to nearest (rtn) for this model."
            )
    if cfg.precision == "int4" and cfg.int4_output_layer == "int8_likely":
        from .output_rows import keep_output_rows, likely_tokens

        reporter.progress(0.6, "Keeping the likely tokens' output rows in 8 bits")
        grid_facts |= keep_output_rows(staging, src, likely_tokens(src, trained_on(src_variant)))
    build_s = time.perf_counter() - t0
    reporter.progress(0.7, "Checking the converted model")
    facts = verify_outputs(staging, src) | grid_facts
    if cfg.execution_provider == "cpu":
        options = tune_for_this_machine(staging)
        facts["cpu_threads"] = options.get("intra_op_num_threads")
    tokens, reply = generate(staging, cfg.verify_prompt, max_new_tokens=16)
    if not tokens:
        raise ModelLoadError("The converted model generated nothing", "Check the builder log; try fp32 to compare.")
    for a in adapters:  # each adapter must switch on and answer; its reply is kept to show the difference
        a_tokens, a["verify_reply"] = generate(staging, cfg.verify_prompt, 16, adapter=staging / a["file"])
        a["differs_from_base"] = a_tokens != tokens
    quality = None
    if cfg.check_dataset_id is not None and not adapters:
        from .quality import quality_kept, quick_check

        reporter.progress(0.8, "Quick quality check against the PyTorch model")
        quality = quick_check(staging, src, cfg.check_dataset_id, rows=cfg.check_rows)
        quality["kept"] = round(quality_kept(quality), 4)
    shutil.rmtree(cache, ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)  # only a verified model appears under its final name
    size = _folder_size(out)
    src_size = src_variant.size_bytes or sum(f.stat().st_size for f in src.glob("*.safetensors"))
    metrics = {
        "build_seconds": round(build_s, 1),
        "size_bytes": size,
        "size_ratio_to_source": round(size / src_size, 4) if src_size else None,
        "verify_reply": reply,
        "verify_tokens": len(tokens),
        "quality": quality,
        "adapters": adapters,
        **({"int4_route": route_name(cfg.model_dump())} if cfg.precision == "int4" else {}),
        **facts,
    }
    with session_scope() as s:
        existing = s.exec(select(ModelVariant).where(ModelVariant.artifact_path == str(out))).first()
        v = existing or ModelVariant(stage="convert", format="onnx", artifact_path=str(out))
        n = len(adapters)
        v.precision, v.config = cfg.precision, cfg.model_dump(mode="json")
        v.name = cfg.output_name or conversion_name(src_variant.name, cfg.precision, n)
        v.project_id, v.parent_id, v.precision, v.size_bytes = (
            src_variant.project_id,
            src_variant.id,
            cfg.precision,
            size,
        )
        v.config, v.metrics, v.job_id = cfg.model_dump(mode="json"), metrics, job_id
        s.add(v)
    reporter.progress(1.0, f"Ready: {cfg.precision}, {size / 1e6:.1f} MB")
    return {"variant_id": v.id, "path": str(out), **metrics}


def conversions_of(source_id: int) -> list[ModelVariant]:
    with session_scope() as s:
        return list(
            s.exec(
                select(ModelVariant).where(ModelVariant.parent_id == source_id, ModelVariant.stage == "convert")
            ).all()
        )


def _checked(source_id: int) -> list[dict]:
    """A source's conversions that went through the quick check, as the recommendation weighs them."""
    from .views import conversion_labels

    conversions = conversions_of(source_id)
    labels = conversion_labels(conversions)
    rows = [
        {
            "precision": v.precision,
            "label": labels[v.id],
            "size_ratio": v.metrics.get("size_ratio_to_source") or 1.0,
            "kept": (v.metrics.get("quality") or {}).get("kept"),
        }
        for v in conversions
    ]
    return [r for r in rows if r["kept"] is not None]


def recommendation(source_id: int) -> str:
    """The plain-language pick among a source's checked conversions."""
    from .quality import recommend

    return recommend(_checked(source_id))


def has_recommendation(source_id: int) -> bool:
    """Whether one of the source's checked conversions keeps enough quality to be recommended."""
    from .quality import pick

    return pick(_checked(source_id)) is not None
