"""Distill: the teacher writes the answers the student will learn from; you check them before training."""

from __future__ import annotations

import streamlit as st

from slmops_engine.data import list_datasets
from slmops_engine.overview import latest_job
from slmops_engine.projects import project_teacher
from slmops_engine.synth.views import prompt_datasets
from slmops_ui import distill_live, distill_review, distill_settings
from slmops_ui.feedback import show_flash
from slmops_ui.launch import next_run_settings
from slmops_ui.nav import ensure_frame, link_to, page_for
from slmops_ui.project import require_project

ensure_frame()
project = require_project()
st.title("Distill")
st.caption(
    "The **teacher** answers your prompts; its answers become the examples the **student** learns from. "
    "Every answer is saved the moment it arrives, so a stopped run continues later without paying twice."
)
show_flash()

teacher = project_teacher(project)
datasets = list_datasets(project.id)
latest = latest_job("synth", project.id)
busy = latest is not None and not latest.status.finished

ask, review = st.tabs(
    [distill_live.ASK_TAB, distill_live.REVIEW_TAB], key=distill_live.TABS_KEY, on_change="rerun"
)  # tracked, so the page stays on its tab when it reruns (e.g. after saving)
with ask:
    distill_live.teacher_card(teacher)
    if latest is not None:
        distill_live.run_panel(latest.id, latest.status.finished)
    prompts = prompt_datasets(datasets)
    if not prompts:
        st.info("No prompts yet: import the questions the teacher should answer (or load the sample) on the Data page.")
        data = page_for("data")
        if data:
            st.page_link(data.path, label="Go to Data", icon=data.icon)
    elif teacher is not None:
        with next_run_settings(busy, first_run=latest is None):
            ds = distill_settings.pick_prompts(project, prompts)
            cfg = distill_settings.run_settings(project, teacher, ds)
            distill_settings.start_panel(project, ds, cfg, busy)

with review:
    st.caption(
        "Look through what the teacher wrote before the student learns it: untick answers to leave them out, "
        "click an answer to correct it. Flags point at answers that may be wrong."
    )
    distill_review.review_panel(project, datasets)
if any(d.stage == "review" for d in list_datasets(project.id)):  # read again: a review may have just been saved
    link_to("finetune", "Next: fine-tune the student on the reviewed answers")
