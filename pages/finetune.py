"""Fine-tune: the student learns from the (teacher-answered) examples; live curves, Cancel and Resume, results."""

from __future__ import annotations

import streamlit as st

from slmops_engine.data import list_datasets
from slmops_engine.finetune.views import trainable_datasets
from slmops_engine.overview import latest_job
from slmops_engine.projects import project_student, project_teacher, student_folder
from slmops_engine.variants import list_variants
from slmops_ui import finetune_live, finetune_results, finetune_settings, sweep_panel
from slmops_ui.feedback import show_flash
from slmops_ui.launch import next_run_settings
from slmops_ui.nav import ensure_frame, link_to
from slmops_ui.project import require_project

ensure_frame()
project = require_project()
st.title("Fine-tune")
st.caption(
    "The **student** learns from the examples: it trains on their training part and is measured on the "
    "validation part it never sees. Training saves checkpoints, so a stopped run resumes where it was."
)
show_flash()

student = project_student(project)
datasets = list_datasets(project.id)
trainable = trainable_datasets(datasets)
latest = latest_job("finetune", project.id)
busy = latest is not None and not latest.status.finished

train_tab, results_tab, search_tab = st.tabs(["1 · Train", "2 · Fine-tuned models", "3 · Search settings"])
with train_tab:
    if latest is not None:
        finetune_live.run_panel(latest.id, latest.status.finished)
    folder = student_folder(project) if student else None
    if student is None:
        st.warning(
            "**No student chosen yet.** The student is the small model you fine-tune — for example the bundled "
            "offline model.",
            icon=":material/neurology:",
        )
        link_to("models", "Choose the student on Models")
    elif folder is None:
        st.warning(
            f"**The student ({student.label}) is not on this machine yet.** Prepare or download it on the Models page.",
            icon=":material/cloud_off:",
        )
        link_to("models", "Go to Models")
    elif not trainable:
        if datasets:
            st.info(
                "Your data has prompts but no answers yet. Let the teacher answer them on the Distill page: the "
                "student learns from those answers."
            )
            link_to("distill", "Go to Distill")
        else:
            st.info("No data yet: import examples (or load the sample) on the Data page.")
            link_to("data", "Go to Data")
    else:
        with next_run_settings(busy, first_run=latest is None):
            where = "" if student.source == "local" else f" · `{folder}`"
            st.markdown(f"**Student** (the model that learns): {student.label}{where}")
            link_to("models", "Change the student on Models")
            ds = finetune_settings.pick_dataset(project, trainable)
            cfg = finetune_settings.run_settings(project, student, project_teacher(project), ds)
            finetune_settings.start_panel(project, ds, cfg, busy)

with results_tab:
    finetune_results.results_panel(project)
with search_tab:
    if student is not None and folder is not None and trainable:
        sweep_panel.search_tab(project, student, trainable)
    else:
        st.info("A search needs a student on this machine and answered data: see the Train tab.")
if list_variants(project.id, stage="finetune"):
    link_to("optimize", "Next: make it small and fast on Optimize")
