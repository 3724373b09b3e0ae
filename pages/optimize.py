"""Optimize: convert a model to ONNX at one or more precisions (fp32 / int8 / int4), check each against the
original, and compare size, quality and speed."""

from __future__ import annotations

import streamlit as st

from slmops_engine.data import list_datasets
from slmops_engine.optimize.convert import has_recommendation
from slmops_engine.optimize.views import check_datasets, convert_jobs, convertible, open_jobs
from slmops_engine.variants import list_variants
from slmops_ui import optimize_live, optimize_results, optimize_settings
from slmops_ui.feedback import show_flash
from slmops_ui.nav import ensure_frame, link_to
from slmops_ui.project import require_project

ensure_frame()
project = require_project()
st.title("Optimize")
st.caption(
    "Make the model **smaller and faster** for this machine: it is converted to ONNX (the format Foundry Local and "
    "onnxruntime run) and its numbers stored in fewer bits. Each conversion is checked against the original on your "
    "examples, so you see what it costs in quality before you deploy it."
)
show_flash()

sources = convertible(list_variants(project.id))
if not sources:
    st.info(
        "**No model to convert yet.** Fine-tune the student first (each finished run can be converted here), or "
        "prepare the bundled offline model on the Models page to convert it as it is.",
        icon=":material/neurology:",
    )
    link_to("finetune", "Go to Fine-tune")
    link_to("models", "Go to Models")
    st.stop()

source = optimize_settings.pick_source(project, sources)
jobs = convert_jobs(project.id, source.id)
pending = open_jobs(jobs)
busy = any(not j.status.finished for j in pending)
optimize_live.jobs_panel(pending)
optimize_results.results_panel(source)

if busy:  # the settings for the next conversion stay out of the way while these run
    settings = st.expander("Settings for another conversion", icon=":material/tune:")
else:
    st.subheader("Convert")
    settings = st.container()
with settings:
    cfgs = optimize_settings.run_settings(project, source, check_datasets(list_datasets(project.id)))
    optimize_settings.start_panel(project, source, cfgs, busy)
if any(j.status.value == "succeeded" for j in jobs):
    recommended = has_recommendation(source.id)  # only a recommendation that exists is offered
    link_to("deploy", "Next: deploy the recommended model" if recommended else "Next: deploy a model")
