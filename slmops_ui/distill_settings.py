"""The Distill page's run settings: which prompts, how the teacher answers, speed and cost limits, the preflight
checks and Start. Plain widgets rather than a form, so the checks and the request count follow every change."""

from __future__ import annotations

import zlib

import streamlit as st
from pydantic import ValidationError

from slmops_engine.jobs.estimates import describe
from slmops_engine.models import Dataset, Project
from slmops_engine.naming import answers_name
from slmops_engine.overview import latest_job
from slmops_engine.stages.synth import preflight
from slmops_engine.synth.config import SynthConfig
from slmops_engine.synth.estimate import run_estimate
from slmops_engine.synth.views import answer_cost_ceiling, answer_shape, planned_prompts, run_plan
from slmops_engine.teachers import Provider, TeacherConfig

from .feedback import show_validation_error
from .launch import show_issues, start_button

LABELS = {
    "dataset_id": "Prompts",
    "splits": "Parts to answer",
    "temperature": "Temperature",
    "max_tokens": "Longest answer (tokens)",
    "answers_per_prompt": "Answers per prompt",
    "reasoning": "Think step by step",
    "learn_reasoning": "The student learns the reasoning too",
    "concurrency": "Requests at once",
    "requests_per_minute": "Requests per minute (0 = no limit)",
    "request_timeout": "Wait for one answer (seconds)",
    "max_retries": "Retries per request",
    "price_input_per_1k": "Price per 1,000 prompt tokens",
    "price_output_per_1k": "Price per 1,000 answer tokens",
    "min_success_ratio": "Fail the run below this share of answers",
    "max_prompts": "Quick trial: prompts",
    "batch_size": "Prompts per batch",
    "output_name": "Name of the new dataset",
}
PART_NAMES = {"train": "train", "validation": "validation", "test": "test (held out for evaluation)"}


def _help(name: str) -> str:
    return SynthConfig.model_fields[name].description or ""


def _default(name: str):
    return SynthConfig.model_fields[name].default


def _number(col, name: str, lo: float, hi: float, key: str, *, step: float | None = None, money: str = ""):
    """A number input labelled and explained by the config field; ``money`` marks a price (and adds to its help)."""
    value = _default(name)
    return col.number_input(
        LABELS[name],
        lo,
        hi,
        float(value) if isinstance(lo, float) else value,
        step or (0.0005 if money else None),
        format="%.4f" if money else ("%.0f" if isinstance(lo, float) else None),
        key=key,
        help=_help(name) + money,
    )


def pick_prompts(project: Project, prompts: list[Dataset]) -> Dataset:
    """The dataset whose prompts the teacher answers (the newest by default)."""
    ids = [d.id for d in prompts]
    names = {d.id: f"#{d.id} {d.name} · {d.n_rows} rows" for d in prompts}
    key = f"distill_{project.id}_dataset"
    if st.session_state.get(key) not in ids:
        st.session_state.pop(key, None)
    pick = st.selectbox(LABELS["dataset_id"], ids, format_func=names.__getitem__, key=key, help=_help("dataset_id"))
    ds = next(d for d in prompts if d.id == pick)
    parts = " · ".join(f"{k} {v}" for k, v in ds.info.get("splits", {}).items())
    extra = " It already has answers: the teacher's replace them, the originals are kept for comparison."
    st.caption(f"Parts: {parts}." + (extra if ds.info.get("has_responses") else ""))
    return ds


def _which_prompts(project: Project, ds: Dataset) -> tuple[list[str], int | None]:
    k = f"distill_{project.id}_{ds.id}"
    available = list(ds.info.get("splits", {})) or ["train"]
    default = [s for s in ("train", "validation") if s in available] or available[:1]
    c1, c2, c3 = st.columns([6, 3, 2], vertical_alignment="bottom")
    splits = c1.multiselect(
        LABELS["splits"],
        available,
        default=default,
        format_func=PART_NAMES.get,
        key=f"{k}_splits",
        help=_help("splits") + " Keep the test part out: it measures the student on questions it never saw.",
    )
    trial = c2.toggle("Quick trial: only the first prompts", key=f"{k}_trial", help=_help("max_prompts"))
    # the count sits beside the toggle, always there (greyed out while off), so nothing moves when it is switched
    count = c3.number_input(LABELS["max_prompts"], 1, 100_000, 20, key=f"{k}_max_prompts", disabled=not trial)
    max_prompts = int(count) if trial else None
    if "test" in splits:
        st.warning("Answering the test part means the student is later tested on questions it trained on.")
    return splits, max_prompts


def _answers(project: Project, teacher: TeacherConfig) -> dict:
    k = f"distill_{project.id}"
    # A new key when the project's teacher prompt changes, so the box starts from the saved prompt again.
    sys_key = f"{k}_system_{zlib.crc32(teacher.system_prompt.encode()):x}"
    prompt = st.text_area(
        "Instructions for the teacher (system prompt)",
        value=teacher.system_prompt,
        key=sys_key,
        height=110,
        placeholder="None yet: the teacher sees only each prompt. Instructions steer its answers, e.g. the format "
        "you want (“Answer with the category only”).",
        help="Prefilled from the project's teacher. A change here applies to this run only; edit it on the Models "
        "page to keep it.",
    )
    if prompt != teacher.system_prompt:
        st.caption(":material/edit: Changed for this run only.")
    c1, c2, c3 = st.columns(3)
    values = {
        "temperature": c1.slider(
            LABELS["temperature"], 0.0, 2.0, _default("temperature"), 0.1, key=f"{k}_temp", help=_help("temperature")
        ),
        "max_tokens": c2.number_input(
            LABELS["max_tokens"],
            1,
            32_768,
            None,
            64,
            key=f"{k}_max_tokens",
            placeholder="sized from the task",
            help=_help("max_tokens"),
        ),
        "answers_per_prompt": int(_number(c3, "answers_per_prompt", 1, 8, f"{k}_answers")),
    }
    r1, r2 = st.columns(2)
    values["reasoning"] = r1.toggle(LABELS["reasoning"], key=f"{k}_reasoning", help=_help("reasoning"))
    learn = r2.toggle(
        LABELS["learn_reasoning"],
        key=f"{k}_learn_reasoning",
        disabled=not values["reasoning"],
        help=_help("learn_reasoning") + " Only with 'Think step by step'.",
    )
    values["learn_reasoning"] = learn and values["reasoning"]
    values["teacher"] = (
        teacher if prompt == teacher.system_prompt else teacher.model_copy(update={"system_prompt": prompt})
    )
    return values


def _limits(project: Project, teacher: TeacherConfig) -> dict:
    k = f"distill_{project.id}"
    values: dict = {}
    with st.expander("Speed, limits and cost", icon=":material/speed:"):
        c1, c2, c3 = st.columns(3)
        if teacher.provider == Provider.local:
            values["batch_size"] = int(_number(c1, "batch_size", 1, 256, f"{k}_batch"))
            st.caption("A teacher on this machine costs nothing per token; a smaller batch uses less memory.")
        else:
            free = " Leave 0 if it is free."
            values |= {
                "concurrency": int(_number(c1, "concurrency", 1, 256, f"{k}_concurrency")),
                "requests_per_minute": int(_number(c2, "requests_per_minute", 0, 100_000, f"{k}_rpm")),
                "request_timeout": float(_number(c3, "request_timeout", 1.0, 3600.0, f"{k}_timeout", step=10.0)),
                "price_input_per_1k": _number(c1, "price_input_per_1k", 0.0, 1000.0, f"{k}_price_in", money=free),
                "price_output_per_1k": _number(c2, "price_output_per_1k", 0.0, 1000.0, f"{k}_price_out", money=free),
                "max_retries": int(_number(c3, "max_retries", 0, 20, f"{k}_retries")),
            }
        share = st.slider(
            LABELS["min_success_ratio"],
            0,
            100,
            int(_default("min_success_ratio") * 100),
            5,
            format="%d%%",
            key=f"{k}_min_success",
            help=_help("min_success_ratio") + " Answers that did arrive are kept either way.",
        )
        values["min_success_ratio"] = share / 100
    return values


def run_settings(project: Project, teacher: TeacherConfig, ds: Dataset) -> SynthConfig | None:
    """Every setting of a run, as a validated config (None while one is missing or invalid)."""
    splits, max_prompts = _which_prompts(project, ds)
    st.markdown("**How the teacher answers**")
    values = _answers(project, teacher)
    values |= _limits(project, teacher)
    default_name = answers_name(ds.name, teacher.model or "local teacher")
    name = st.text_input(
        LABELS["output_name"], key=f"distill_{project.id}_{ds.id}_name", placeholder=default_name, max_chars=200
    )
    if not splits:
        st.warning("Choose at least one part to answer.")
        return None
    try:
        return SynthConfig(
            dataset_id=ds.id,
            project_id=project.id,
            splits=splits,
            max_prompts=max_prompts,
            output_name=name.strip() or None,
            **values,
        )
    except ValidationError as exc:
        show_validation_error(exc, LABELS)
        return None


@st.cache_data(show_spinner=False, max_entries=16)
def _plan(cfg_json: str, last_run: tuple | None) -> dict:
    # Re-reading every prompt on each widget change would slow big datasets; answers only arrive through runs.
    return run_plan(SynthConfig.model_validate_json(cfg_json))


def start_panel(project: Project, ds: Dataset, cfg: SynthConfig | None, busy: bool) -> None:
    """What the run will ask, the preflight checks, and Start (disabled on errors or while a run is going)."""
    issues = preflight(cfg) if cfg else []
    if cfg:
        prompts = planned_prompts(ds, cfg.splits, cfg.max_prompts)
        needed = prompts * cfg.answers_per_prompt
        last = latest_job("synth", project.id)
        marker = (last.id, last.status.value, last.progress) if last else None
        plan = _plan(cfg.model_dump_json(), marker)
        saved = min(plan["saved"], needed)
        text = f"**{needed:,}** answers needed ({prompts:,} prompts × {cfg.answers_per_prompt})"
        if saved:
            text += f"; **{saved:,}** are already saved from earlier runs and are not asked (or paid for) again"
        text += f". The teacher will be asked **{needed - saved:,}** times"
        estimate = run_estimate(cfg, needed - saved, plan["labels"], project.id)
        text += f", {describe(estimate)}." if estimate and needed > saved else "."
        if cfg.price_output_per_1k and needed > saved:
            ceiling = answer_cost_ceiling(needed - saved, plan["max_tokens"] or 0, cfg.price_output_per_1k)
            text += f" The answers cost at most about \\${ceiling:,.2f}, plus the prompt tokens."
        st.markdown(text)
        st.caption(answer_shape(plan["labels"], plan["max_tokens"], cfg.max_tokens is None))
    blocked = show_issues(issues) or cfg is None
    start_button(
        kind="synth",
        cfg=cfg,
        project_id=project.id,
        title=f"Teacher answers {ds.name}",
        label="Start",
        key="distill_start",
        blocked=blocked,
        busy=busy,
        labels=LABELS,
        started="Run #{job.id} started: the teacher is answering. It goes on in the background if you leave.",
    )
