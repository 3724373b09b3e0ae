"""Evaluate: every variant answers the same held-out rows; quality, speed, memory and size side by side, the
variant to ship, a report for a manager and a hand-over bundle."""

from __future__ import annotations

import streamlit as st

from slmops_engine.evaluate.views import evaluation_jobs, variant_rows
from slmops_engine.models import JobStatus
from slmops_engine.projects import project_teacher
from slmops_ui import evaluate_live, evaluate_results, evaluate_settings
from slmops_ui.feedback import show_flash
from slmops_ui.launch import next_run_settings
from slmops_ui.nav import ensure_frame, link_to
from slmops_ui.project import require_project

ensure_frame()
project = require_project()
st.title("Evaluate")
st.caption(
    "Is the distilled model **good enough to ship**? Every variant — the teacher, the student before and after "
    "fine-tuning, each ONNX precision, a running deployment — answers the same held-out questions. You see how "
    "much of the teacher's quality each keeps, how fast it answers and how much memory it needs."
)
show_flash()

if not variant_rows(project.id) and project_teacher(project) is None:
    st.info(
        "**Nothing to evaluate yet.** Choose a teacher and a student on the Models page, or fine-tune a student.",
        icon=":material/neurology:",
    )
    link_to("models", "Go to Models")
    st.stop()

jobs = evaluation_jobs(project.id)
newest = jobs[0] if jobs else None
busy = newest is not None and not newest.status.finished
if newest is not None and newest.status != JobStatus.succeeded:
    evaluate_live.job_panel(newest)
finished = [j for j in jobs if j.status == JobStatus.succeeded]
if finished:
    st.subheader("Results")
    evaluate_results.results_panel(project, finished)
elif not busy:
    st.info("No evaluation yet: pick the variants below and start one.", icon=":material/analytics:")

with next_run_settings(busy, first_run=not finished):
    evaluate_settings.run_settings(project, busy)
