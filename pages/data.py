"""Data: upload, validate, split and preview the examples the student will learn from."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from slmops_engine.data import import_sample, list_datasets, sample_path
from slmops_engine.errors import SlmopsError
from slmops_engine.projects import project_teacher, student_folder
from slmops_ui import data_import, data_view
from slmops_ui.feedback import show_error, show_flash
from slmops_ui.format import ago
from slmops_ui.nav import ensure_frame, link_to
from slmops_ui.project import require_project

ensure_frame()
project = require_project()
st.title("Data")
st.caption(
    "Bring the questions your model should answer — with answers, or let the teacher write them. "
    "Files are checked row by row before anything is stored."
)
show_flash()
tokenizer = student_folder(project)

tab_import, tab_datasets = st.tabs(["Import", "Datasets"])
with tab_import:
    source = st.radio(
        "Source", ["Upload a file", "A saved dataset folder on this machine", "The sample dataset"], horizontal=True
    )
    if source == "Upload a file":
        # No `type=`: Streamlit would refuse a name like '..' with an error page; the engine checks the name and
        # the type itself and says what to do.
        up = st.file_uploader("JSONL, JSON, CSV, Parquet or text (one prompt per line)", on_change=data_import.reset)
        staged = data_import.staged_upload(up) if up is not None else None
        if staged:
            ins = data_import.inspect_source(staged)
            if ins:
                data_import.review_and_store(project, ins, tokenizer)
    elif source == "A saved dataset folder on this machine":
        folder = st.text_input(
            "Folder made with `Dataset.save_to_disk` (or a data file path)", placeholder="/data/my_dataset"
        )
        if folder.strip():
            ins = data_import.inspect_source(Path(folder.strip()).expanduser())
            if ins:
                data_import.review_and_store(project, ins, tokenizer)
    else:
        st.markdown(
            "**Brightwave support routing** — 320 customer messages to a smart-thermostat company, each "
            "routed to *billing*, *account*, *technical* or *shipping*, with 80 held out for testing. "
            "A 135M model can learn it offline in minutes."
        )
        st.caption(f"File: `{sample_path().name}`")
        if st.button("Load the sample dataset", type="primary", icon=":material/dataset:"):
            try:
                ds = import_sample(project.id)
                st.session_state["dataset_id"] = ds.id
                st.success(f"Loaded “{ds.name}”: {ds.n_rows} rows. See it under Datasets.")
            except SlmopsError as exc:
                show_error(exc)

with tab_datasets:
    datasets = list_datasets(project.id)
    if not datasets:
        st.info("No datasets in this project yet — import one, or load the sample.")
        st.stop()
    table = pd.DataFrame(
        [
            {
                "id": d.id,
                "name": d.name,
                "made by": d.stage,
                "rows": d.n_rows,
                "parts": ", ".join(f"{k} {v}" for k, v in d.info.get("splits", {}).items()),
                "parent": d.parent_id,
                "created": ago(d.created_at),
            }
            for d in datasets
        ]
    )
    st.dataframe(table, hide_index=True)
    ids = [d.id for d in datasets]
    chosen = st.session_state.get("dataset_id")
    pick = st.selectbox(
        "Dataset",
        ids,
        index=ids.index(chosen) if chosen in ids else 0,
        format_func=lambda i: next(f"#{d.id} {d.name}" for d in datasets if d.id == i),
    )
    st.session_state["dataset_id"] = pick
    ds = next(d for d in datasets if d.id == pick)
    st.caption(f"Lineage: {data_view.lineage_caption(ds)} · {ds.info.get('shape_label', '')}")
    try:
        data_view.stats_panel(ds, tokenizer)
        st.subheader("How the student will see it")
        teacher = project_teacher(project)
        if teacher is not None and teacher.system_prompt:
            st.caption(
                "The teacher answers with the project's instructions; the student learns the task from those answers "
                "alone — with the examples' own system prompt where they have one, else its template's default — "
                "exactly as it will be asked once deployed."
            )
        data_view.preview_panel(ds, tokenizer, None)
        st.subheader("Split into train / validation / test")
        data_view.split_panel(ds)
        data_view.export_panel(ds)
    except SlmopsError as exc:
        show_error(exc)
link_to("distill", "Next: let the teacher answer on Distill")  # reached once there is a dataset
