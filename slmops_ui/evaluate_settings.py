"""The Evaluate page's settings: what to compare, on which held-out data, the judge and the teacher's price;
the preflight checks and Start."""

from __future__ import annotations

import streamlit as st
from pydantic import ValidationError

from slmops_engine.data import list_datasets
from slmops_engine.evaluate.config import TEACHER, EvalConfig
from slmops_engine.evaluate.views import choices, default_refs, eval_datasets
from slmops_engine.models import Project
from slmops_engine.projects import project_teacher
from slmops_engine.stages.evaluate import preflight
from slmops_engine.teachers import Provider

from .feedback import show_validation_error
from .launch import show_issues, start_button

LABELS = {
    "variants": "Variants to compare",
    "dataset_id": "Held-out data",
    "split": "Part",
    "limit": "Rows",
    "judge": "LLM judge",
}


def _help(name: str) -> str:
    return EvalConfig.model_fields[name].description or ""


def run_settings(project: Project, busy: bool) -> None:
    teacher = project_teacher(project)
    options = dict(choices(project.id, teacher is not None))
    datasets = eval_datasets(list_datasets(project.id))
    if not datasets:
        st.info("Load data on the Data page first: the evaluation needs held-out rows with answers.")
        return
    defaults = [r for r in default_refs(project.id, teacher is not None) if r in options]
    refs = st.multiselect(
        LABELS["variants"],
        list(options),
        default=defaults,
        format_func=options.get,
        help=_help("variants"),
        key=f"eval_refs_{project.id}",
    )
    c1, c2, c3 = st.columns([3, 1, 1])
    ds = c1.selectbox(
        LABELS["dataset_id"],
        datasets,
        format_func=lambda d: f"#{d.id} {d.name} · {d.n_rows:,} rows",
        help=_help("dataset_id"),
        key=f"eval_dataset_{project.id}",
    )
    parts = [p for p in ("test", "validation", "train") if p in ds.info.get("splits", {})]
    sizes = ds.info.get("splits", {})
    split = c2.selectbox(
        LABELS["split"],
        parts,
        format_func=lambda p: f"{p} ({int(sizes.get(p, 0)):,})",
        help=_help("split"),
        key=f"eval_split_{project.id}_{ds.id}",
    )
    n_rows = int(ds.info["splits"].get(split, 0))
    limit = c3.number_input(LABELS["limit"], 1, max(n_rows, 1), max(n_rows, 1), help=_help("limit"))
    judge = st.checkbox(
        "Let the teacher judge each answer (1–10, with a reason)",
        help=_help("judge"),
        disabled=teacher is None,
        key=f"eval_judge_{project.id}",
    )
    prices = (0.0, 0.0)
    if teacher is not None and teacher.provider != Provider.local and TEACHER in refs:
        p1, p2 = st.columns(2)
        prices = (
            p1.number_input("Teacher price per 1,000 prompt tokens", 0.0, value=0.0, step=0.001, format="%.4f"),
            p2.number_input("Teacher price per 1,000 answer tokens", 0.0, value=0.0, step=0.001, format="%.4f"),
        )
    with st.expander("Advanced", icon=":material/tune:"):
        a1, a2, a3 = st.columns(3)
        max_new = a1.number_input("Longest answer (tokens, 0 = sized from the references)", 0, 4096, 0)
        batch = a2.number_input("Batch size", 1, 256, 8, help=_help("batch_size"))
        timed = a3.number_input("Rows timed one at a time", 0, 1000, 8, help=_help("timed_rows"))
    try:
        cfg = EvalConfig(
            variants=refs or ["teacher"],
            dataset_id=ds.id,
            project_id=project.id,
            split=split,
            limit=int(limit) if limit < n_rows else None,
            judge=judge,
            max_new_tokens=int(max_new) or None,
            batch_size=int(batch),
            timed_rows=int(timed),
            price_input_per_1k=prices[0],
            price_output_per_1k=prices[1],
        )
    except ValidationError as exc:
        show_validation_error(exc, LABELS)
        return
    if not refs:
        st.warning("Pick at least one variant to evaluate.")
    blocked = show_issues(preflight(cfg)) or not refs
    st.caption(
        f"{len(refs)} variant(s) × {cfg.limit or n_rows} rows. Models on this machine answer one after another, each "
        "in its own process; a label takes a few tokens, so a 135M model needs about a minute per variant here."
    )
    start_button(
        kind="evaluate",
        cfg=cfg,
        project_id=project.id,
        title="Evaluate and compare",
        label="Start evaluation",
        key=f"eval_start_{project.id}",
        blocked=blocked,
        busy=busy,
        started="Evaluation #{job.id} started.",
        labels=LABELS,
    )
