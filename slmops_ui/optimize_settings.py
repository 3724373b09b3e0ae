"""The Optimize page's settings: which model, which precisions, the int4 options, the data for the quick quality
check, the preflight checks and Start (one background job per precision)."""

from __future__ import annotations

import streamlit as st
from pydantic import ValidationError

from slmops_engine.errors import SlmopsError
from slmops_engine.jobs import submit_job
from slmops_engine.jobs.estimates import Estimate, describe, estimate_for
from slmops_engine.models import Dataset, ModelVariant, Project
from slmops_engine.optimize.config import GPU_ONLY, ConvertConfig
from slmops_engine.optimize.grid_route import grid_route
from slmops_engine.optimize.routes import GRID, PLAIN, route_name, routes_to_compare
from slmops_engine.optimize.views import held_out
from slmops_engine.stage_api import Issue
from slmops_engine.stages.convert import preflight
from slmops_engine.sysinfo import system_info
from slmops_engine.variants import adapter_siblings

from .feedback import flash, show_error, show_validation_error
from .format import human_bytes
from .launch import show_issues

PRECISIONS: dict[str, str] = {
    "int4": "int4 — smallest and fastest on a CPU (recommended)",
    "int8": "int8 — a little larger, keeps a little more quality",
    "fp32": "fp32 — full size: the reference to compare with",
    "fp16": "fp16 — half size, for an NVIDIA GPU",
    "bf16": "bf16 — half size, for recent NVIDIA GPUs",
}
NO_GPU = "Needs an NVIDIA GPU (CUDA) and none was found on this machine: choose int4, int8 or fp32 for the CPU."
METHODS: dict[str, str] = {
    "rtn": "round to nearest (fast)",
    "k_quant": "k-quant: best scale per block",
    "grid": "grid: each block's own offset kept",
}
LAYER_BITS: dict[str, str] = {"int4": "int4 (smallest)", "int8": "int8 (keeps more quality)"}
OUTPUT_BITS: dict[str, str] = {**LAYER_BITS, "int8_likely": "int8 for the likeliest tokens"}
ACCURACY: dict[int, str] = {
    4: "4 — int8: fastest (recommended)",
    3: "3 — bf16",
    2: "2 — fp16",
    1: "1 — fp32: most exact, slowest",
    0: "0 — the runtime decides",
}
LABELS: dict[str, str] = {
    "variant_id": "Model to convert",
    "precision": "Precision",
    "int4_block_size": "Block size",
    "int4_accuracy_level": "Arithmetic precision (accuracy level)",
    "int4_symmetric": "Symmetric",
    "int4_method": "Rounding",
    "int4_output_layer": "Output layer",
    "int4_sensitive_layers": "Most sensitive layers",
    "execution_provider": "Where it will run",
    "verify_prompt": "Test prompt",
    "check_dataset_id": "Data for the quick quality check",
    "check_rows": "Examples to check",
    "output_name": "Name",
}
STAGE_WORDS = {"finetune": "fine-tuned", "import": "base model"}


def _help(name: str) -> str:
    return ConvertConfig.model_fields[name].description or ""


def pick_source(project: Project, variants: list[ModelVariant]) -> ModelVariant:
    """The model to convert (the newest fine-tuned one by default)."""
    ids = [v.id for v in variants]
    names = {v.id: f"#{v.id} {v.name} · {STAGE_WORDS[v.stage]} · {human_bytes(v.size_bytes)}" for v in variants}
    key = f"opt_{project.id}_source"
    if st.session_state.get(key) not in ids:
        st.session_state.pop(key, None)
    pick = st.selectbox(LABELS["variant_id"], ids, format_func=names.__getitem__, key=key, help=_help("variant_id"))
    return next(v for v in variants if v.id == pick)


def _precisions(k: str, has_cuda: bool) -> list[str]:
    st.markdown("**Precisions** — each one becomes its own model; tick several to compare them.")
    picked = []
    cols = st.columns(len(PRECISIONS))
    for col, (p, label) in zip(cols, PRECISIONS.items(), strict=True):
        off = p in GPU_ONLY and not has_cuda
        name, what = label.split(" — ")
        if col.checkbox(
            name + (" (GPU only)" if off else ""),
            value=p == "int4",
            key=f"{k}_{p}",
            disabled=off,
            help=NO_GPU if off else what[:1].upper() + what[1:] + ".",
        ):
            picked.append(p)
    if not has_cuda:
        st.caption(f":material/memory: fp16 and bf16 are unavailable: {NO_GPU[0].lower()}{NO_GPU[1:]}")
    return picked


def _int4_options(k: str, source: ModelVariant, with_adapters: bool) -> dict:
    route = grid_route(source)
    four_bit = not isinstance(route, str) and not with_adapters  # switchable adapters: round to nearest
    if four_bit:
        st.info(
            f"{route.describe()}. **Grid** rounding (the default here) keeps them instead of rounding them a second "
            "time, and the output rows of the 4,096 likeliest tokens (those your examples use first) are kept in "
            "int8 as well. Measured on the bundled SmolLM2: 96% of the original's perplexity on generic text kept "
            "(plain int4: 77%) at 18% of its size; on its demo fine-tune, all of the route accuracy (plain int4: "
            "91%). It decodes at about 0.85× plain int4's speed (llama.cpp on the same weights: 0.6–0.75×).",
            icon=":material/grid_on:",
        )
    with st.expander("int4 options — the defaults are recommended", icon=":material/tune:"):
        st.caption(
            "**Recommended: block size 32, symmetric, arithmetic level 4.** int4 stores each weight in 4 bits with "
            "one scale per block of weights: smaller blocks keep more quality, larger blocks make a smaller file. "
            "A model that was 4-bit already (the bundled SmolLM2 is a GGUF Q4_1) keeps its layers exactly with the "
            "**grid** rounding; an int8 output layer or int8 sensitive layers keep more quality for a larger file."
        )
        c1, c2, c3 = st.columns(3)
        return {
            "int4_block_size": c1.select_slider(
                LABELS["int4_block_size"], [16, 32, 64, 128, 256], 32, key=f"{k}_block", help=_help("int4_block_size")
            ),
            "int4_accuracy_level": c2.selectbox(
                LABELS["int4_accuracy_level"],
                list(ACCURACY),
                format_func=ACCURACY.__getitem__,
                key=f"{k}_accuracy",
                help=_help("int4_accuracy_level"),
            ),
            "int4_symmetric": c3.checkbox(
                LABELS["int4_symmetric"], True, key=f"{k}_symmetric", help=_help("int4_symmetric")
            ),
            **_routes(f"{k}_{source.id}", four_bit),
        }


def _routes(k: str, four_bit: bool) -> dict:
    """One route, or several side by side: each its own conversion with the quick check, so the comparison shows
    the quality each keeps and the recommendation picks the smallest that keeps 97%."""
    routes = routes_to_compare(four_bit)
    compare = st.checkbox(
        f"Compare {len(routes)} int4 routes side by side",
        key=f"{k}_compare",
        help="Converts int4 once per route: "
        + "; ".join(route_name(r) for r in routes)
        + ". With the quick quality check, the comparison below shows what each keeps and the recommendation "
        "names the smallest that keeps 97% of the quality.",
    )
    if compare:
        st.caption(f"int4 is converted {len(routes)} times: " + ", ".join(f"**{route_name(r)}**" for r in routes) + ".")
        return {"int4_routes": routes}
    return _mixed_options(k, GRID if four_bit else PLAIN)  # its defaults follow the model


def _mixed_options(k: str, defaults: dict) -> dict:
    """How int4 rounds, and which layers stay in int8: quality for size (bench/int4_routes.py measures each)."""
    c1, c2, c3 = st.columns(3)
    return {
        name: col.selectbox(
            LABELS[name],
            list(choices),
            index=list(choices).index(defaults[name]),
            format_func=choices.__getitem__,
            key=f"{k}_{name}",
            help=_help(name),
        )
        for col, name, choices in (
            (c1, "int4_method", METHODS),
            (c2, "int4_output_layer", OUTPUT_BITS),
            (c3, "int4_sensitive_layers", LAYER_BITS),
        )
    }


def _check_data(k: str, datasets: list[Dataset]) -> dict:
    ids: list[int | None] = [d.id for d in datasets] + [None]
    names = {
        d.id: f"#{d.id} {d.name} · "
        + (f"{part[1]} {part[0]} examples" if (part := held_out(d)) else "no held-out part")
        for d in datasets
    }
    names[None] = "Skip the quality check (faster, no recommendation)"
    key = f"{k}_check"
    if key in st.session_state and st.session_state[key] not in ids:
        st.session_state.pop(key)
    default = 0 if datasets and held_out(datasets[0]) else len(ids) - 1
    c1, c2 = st.columns([3, 1])
    pick = c1.selectbox(
        LABELS["check_dataset_id"],
        ids,
        index=default,
        format_func=names.__getitem__,
        key=key,
        help="After converting, the new model and the original answer the same examples: how close the answers "
        "stay (ROUGE-L), how surprised each is by the right answer (perplexity), and how fast each one runs.",
    )
    rows = c2.number_input(
        LABELS["check_rows"], 1, 1000, 16, key=f"{k}_rows", disabled=pick is None, help=_help("check_rows")
    )
    if not datasets:
        st.caption("No data with answers in this project yet: the check needs examples with answers (Data page).")
    elif pick is not None and not held_out(next(d for d in datasets if d.id == pick)):
        st.caption("This data has no held-out part: the check uses its first training examples instead.")
    return {"check_dataset_id": pick, "check_rows": int(rows)}


def _adapters(k: str, source: ModelVariant) -> list[int]:
    """LoRA fine-tunes of this base, served from one ONNX base (one small adapter file each)."""
    siblings = adapter_siblings(source.id)
    if not siblings:
        return []
    names = {v.id: f"#{v.id} {v.name}" for v in siblings}
    picked = st.multiselect(
        "Adapters to serve from this base (multi-adapter)",
        list(names),
        format_func=names.__getitem__,
        key=f"{k}_{source.id}_adapters",
        help=_help("adapter_ids"),
        placeholder="None: convert the base model on its own",
    )
    if picked:
        st.caption(
            f":material/layers: One ONNX base plus {len(picked)} adapter file{'s' if len(picked) > 1 else ''}: "
            "each adapter is switched on when generating, without loading another model. The adapter layers stay "
            "in full precision; the quick quality check applies to single models and is skipped here."
        )
    return picked


def run_settings(project: Project, source: ModelVariant, datasets: list[Dataset]) -> list[ConvertConfig] | None:
    """One validated config per ticked precision ([] when none is ticked, None while a setting is invalid)."""
    k = f"opt_{project.id}"
    has_cuda = system_info().has_cuda
    adapter_ids = _adapters(k, source)
    picked = _precisions(k, has_cuda)
    common: dict = {"adapter_ids": adapter_ids}
    if "int4" in picked:
        common |= _int4_options(k, source, bool(adapter_ids))
    if adapter_ids:
        common |= {"check_dataset_id": None}
    else:
        common |= _check_data(k, datasets)
    where = "cpu"
    if has_cuda:
        where = st.radio(
            LABELS["execution_provider"],
            ["cpu", "cuda"],
            key=f"{k}_ep",
            horizontal=True,
            help=_help("execution_provider"),
        )
    with st.expander("Test prompt", icon=":material/chat:"):
        prompt = st.text_input(
            LABELS["verify_prompt"],
            ConvertConfig.model_fields["verify_prompt"].default,
            key=f"{k}_prompt",
            help=_help("verify_prompt"),
        )
    routes = common.pop("int4_routes", [{}])
    if common.get("int4_block_size", 32) != 32 or common.get("int4_symmetric") is False or adapter_ids:
        routes = [r for r in routes if r.get("int4_method") != "grid"] or [{}]  # grid stores the plain layout
    try:
        return [
            ConvertConfig(
                variant_id=source.id,
                precision=p,
                execution_provider="cuda" if p in GPU_ONLY else where,
                verify_prompt=prompt,
                **common,
                **route,
            )
            for p in picked
            for route in (routes if p == "int4" else [{}])
        ]
    except ValidationError as exc:
        show_validation_error(exc, LABELS)
        return None


def _what(cfg: ConvertConfig, cfgs: list[ConvertConfig]) -> str:
    """'int4' or 'int4 (3 routes)' for the Start button."""
    n = sum(c.precision == "int4" for c in cfgs)
    return f"int4 ({n} routes)" if cfg.precision == "int4" and n > 1 else cfg.precision


def _checks(cfgs: list[ConvertConfig]) -> list[Issue]:
    seen, issues = set(), []
    for cfg in cfgs:
        for issue in preflight(cfg):
            if issue.title not in seen:  # the same model problem once, not once per precision
                seen.add(issue.title)
                issues.append(issue)
    return issues


def _estimate(cfgs: list[ConvertConfig]) -> None:
    """The conversions' time together (they run one at a time) and the largest peak, when each can be estimated."""
    ests = [e for c in cfgs if (e := estimate_for("convert", c)) is not None and e.seconds is not None]
    if not ests or len(ests) < len(cfgs):
        return
    bases = {e.basis for e in ests}
    basis = bases.pop() if len(bases) == 1 else "from earlier conversions here and a 2-core laptop's measurements"
    peaks = [e.peak_bytes for e in ests if e.peak_bytes]
    total = Estimate(sum(e.seconds for e in ests), basis, max(peaks) if peaks else None)
    many = ", one conversion after the other" if len(ests) > 1 else ""
    st.caption(f":material/schedule: Takes {describe(total)}{many}.")


def start_panel(project: Project, source: ModelVariant, cfgs: list[ConvertConfig] | None, busy: bool) -> None:
    """The preflight checks and Start: submits one background job per ticked precision."""
    cfgs = cfgs or []
    blocked = show_issues(_checks(cfgs)) or not cfgs
    if not cfgs:
        st.caption("Tick at least one precision.")
    elif not blocked:
        st.caption(":material/check_circle: Checks passed: the model folder and its tokenizer are ready.")
        _estimate(cfgs)
    label = f"Convert to {', '.join(dict.fromkeys(_what(c, cfgs) for c in cfgs))}" if cfgs else "Convert"
    reason = "These conversions are still going: wait for them, or cancel them above." if busy else None
    if not st.button(
        label,
        type="primary",
        icon=":material/play_arrow:",
        key="optimize_start",
        disabled=blocked or busy,
        help=reason or ("Fix the problems above first." if blocked else "Runs in the background; you can leave."),
    ):
        return
    ids = []
    try:
        for cfg in cfgs:
            title = f"Convert {source.name} to ONNX {cfg.precision}"
            if sum(c.precision == "int4" for c in cfgs) > 1 and cfg.precision == "int4":
                title += f" ({route_name(cfg.model_dump())})"
            ids.append(submit_job("convert", cfg, project_id=project.id, title=title).id)
    except SlmopsError as exc:
        show_error(exc)
        if not ids:
            return
    runs = ", ".join(f"#{i}" for i in ids)
    flash(f"Started {len(ids)} conversion{'s' if len(ids) > 1 else ''} ({runs}). They go on if you leave.", "info")
    st.rerun()
