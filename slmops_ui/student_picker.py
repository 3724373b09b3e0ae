"""The student choice: the catalog with memory fit for this machine, a model folder, or the bundled model."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from pandas.io.formats.style import Styler

from slmops_engine import hub
from slmops_engine.bundled import bundled_variant
from slmops_engine.catalog import CATALOG, estimate_for, find_model, fit_report
from slmops_engine.errors import SlmopsError
from slmops_engine.model_folder import inspect_model_folder
from slmops_engine.models import Project
from slmops_engine.projects import project_student, set_student
from slmops_engine.students import StudentChoice, bundled_choice

from .cache import cached_locally, machine
from .feedback import flash, models_scope, show_error, widget_key
from .format import FIT_CSS, fit_cell, fit_legend, human_bytes

SOURCES = {
    "catalog": "From the catalog (Hugging Face)",
    "local": "A model folder on this machine",
    "bundled": "The bundled offline model",
}

FIT_COLUMNS = {"Full fine-tune": "full", "LoRA": "lora", "QLoRA": "qlora", "Run (int4)": "int4_inference"}
COLUMN_HELP = {
    "Full fine-tune": st.column_config.TextColumn(help="Memory to train every weight of the model."),
    "LoRA": st.column_config.TextColumn(help="Memory to train small adapter layers only: the usual choice."),
    "QLoRA": st.column_config.TextColumn(help="LoRA on a 4-bit model: least memory, needs an NVIDIA GPU."),
    "Run (int4)": st.column_config.TextColumn(help="Memory to run the model after 4-bit quantization."),
    "Downloaded": st.column_config.TextColumn(
        help="Already on this machine; otherwise fetched from the hub when used."
    ),
}


def catalog_table() -> Styler:
    """One row per catalog model: size, licence, context and memory needs coloured by how they fit here."""
    info = machine()
    rows, fits = [], []
    for m in CATALOG:
        est = estimate_for(m, gpu=info.has_cuda)
        fit = fit_report(est, info)
        row = {
            "Model": m.name + (" (gated)" if m.gated else ""),
            "Parameters": f"{m.params_b * 1000:.0f} M" if m.params_b < 1 else f"{m.params_b:.1f} B",
            "Licence": m.license,
            "Context": f"{m.context_length // 1024}k tokens",
        }
        row |= {col: fit_cell(fit[use], getattr(est, use)) for col, use in FIT_COLUMNS.items()}
        if not info.has_cuda:
            row["QLoRA"] = "✗ needs a GPU"
        row["Downloaded"] = "yes" if cached_locally(m.id) else "no"
        rows.append(row)
        fits.append({col: fit[use] for col, use in FIT_COLUMNS.items()})
    df = pd.DataFrame(rows)
    css = pd.DataFrame(fits, index=df.index).reindex(columns=df.columns).map(lambda f: FIT_CSS.get(f, ""))
    return df.style.apply(lambda _: css, axis=None)


def _use(project_id: int, choice: StudentChoice, note: str = "") -> None:
    set_student(project_id, choice)
    flash(f"Student set: {choice.label}" + (f" — {note}" if note else ""))
    st.rerun()


def _use_catalog(project_id: int, model_id: str) -> None:
    """Refuse a hub model that is neither cached nor downloadable, with what to do instead (never hangs)."""
    if hub.local_snapshot(model_id) is not None:
        _use(project_id, StudentChoice(source="catalog", model_id=model_id), "already on this machine")
        return
    with st.spinner("Checking that the model hub can be reached…"):
        ok, reason = hub.hub_reachable(timeout=3)
    if not ok:
        show_error(hub.unreachable_error(model_id, reason))
        return
    _use(project_id, StudentChoice(source="catalog", model_id=model_id), "it is downloaded when first needed")


def _catalog(project: Project, current: StudentChoice | None) -> None:
    info = machine()
    if info.has_cuda:
        room = (
            f"{human_bytes(info.train_memory_budget)} free on the GPU (training) and "
            f"{human_bytes(info.ram_available)} of free RAM (running)"
        )
    else:
        room = f"the {human_bytes(info.ram_available)} of RAM free on this machine"
    st.markdown(f"Memory each use needs, compared with {room}.  \n{fit_legend()}")
    st.dataframe(catalog_table(), hide_index=True, column_config=COLUMN_HELP)
    ids = [m.id for m in CATALOG]
    start = ids.index(current.model_id) if current and current.model_id in ids else 0
    model_id = st.selectbox(
        "Catalog model",
        ids,
        index=start,
        format_func=lambda i: find_model(i).name,
        key=widget_key(f"student_catalog_{project.id}", models_scope(project.id)),
    )
    if note := find_model(model_id).notes:
        st.caption(note)
    if st.button("Use as student", key=f"use_catalog_{project.id}", type="primary"):
        _use_catalog(project.id, model_id)


def _folder(project: Project, current: StudentChoice | None) -> None:
    path = st.text_input(
        "Model folder",
        value=current.path if current and current.source == "local" else "",
        placeholder="/data/models/my-model",
        help=StudentChoice.model_fields["path"].description
        + " It must hold config.json, the weights (*.safetensors) and the tokenizer files.",
        key=widget_key(f"student_folder_{project.id}", models_scope(project.id)),
    )
    if st.button("Check and use this folder", key=f"use_folder_{project.id}", type="primary"):
        try:
            found = inspect_model_folder(path.strip())
        except SlmopsError as exc:
            show_error(exc)
            return
        note = f"{found.model_type}, {found.n_params / 1e6:.0f}M parameters, {human_bytes(found.size_bytes)}"
        if not found.has_chat_template:
            note += "; note: it has no chat template"
        _use(project.id, StudentChoice(source="local", path=str(found.path)), note)


def _bundled(project: Project) -> None:
    variant = bundled_variant()
    if variant is None:
        st.info("SmolLM2-135M-Instruct ships with the app. Prepare it once under 'Quick start' at the top.")
    else:
        st.caption(f"SmolLM2-135M-Instruct, ready at `{variant.artifact_path}` ({human_bytes(variant.size_bytes)}).")
    if st.button("Use the bundled model", key=f"use_bundled_{project.id}", type="primary"):
        _use(project.id, bundled_choice(), "" if variant else "prepare it before training")


def student_picker(project: Project) -> None:
    """Where the student comes from, then the choices for that source."""
    current = project_student(project)
    sources = list(SOURCES)
    source = st.radio(
        "Where does the student come from?",
        sources,
        index=sources.index(current.source) if current else 0,
        format_func=SOURCES.__getitem__,
        horizontal=True,
        key=widget_key(f"student_source_{project.id}", models_scope(project.id)),
        help=StudentChoice.model_fields["source"].description,
    )
    {"catalog": _catalog, "local": _folder, "bundled": lambda p, _c: _bundled(p)}[source](project, current)
