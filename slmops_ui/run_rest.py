"""Home's 'Run it all for me': the offline demo's chain (teacher answers → quick fine-tune → int4 → evaluate →
deploy) as one pipeline of ordinary jobs, each visible on its own page; its file to download and run again."""

from __future__ import annotations

import streamlit as st

from slmops_engine.errors import SlmopsError
from slmops_engine.jobs import list_jobs, submit_job
from slmops_engine.models import JobStatus, Project
from slmops_engine.pipeline.demo import ESTIMATE_MINUTES, demo_pipeline
from slmops_engine.pipeline.spec import PipelineConfig, dump
from slmops_engine.stages.prepare_model import bundled_variant

from .feedback import flash, show_error
from .jobs import live_job
from .nav import link_to


def _latest(project_id: int):
    return next((j for j in list_jobs(project_id) if j.kind == "pipeline"), None)


def run_rest_panel(project: Project) -> None:
    job = _latest(project.id)
    with st.container(border=True):
        st.markdown("**Run it all for me**")
        st.caption(
            "The offline demo's whole chain with the defaults: the prompted teacher labels your examples, the "
            "student is fine-tuned on them, converted to int4, evaluated against the teacher and deployed — "
            f"about {ESTIMATE_MINUTES} minutes on a 2-core laptop. Each step runs as its own job: watch it on its "
            "page, or leave."
        )
        if job is not None:
            live_job(job.id)
            if job.status == JobStatus.succeeded:
                link_to("evaluate", "See the result on the Evaluate page")
            st.download_button(
                "Download this run as a pipeline file",
                dump(PipelineConfig.model_validate(job.config)),
                file_name=f"{project.name}-pipeline.yaml",
                mime="text/yaml",
                icon=":material/download:",
                help="Runs the same chain again headless: `slmops pipeline run FILE --wait`.",
                key=f"pipeline_yaml_{job.id}",
            )
        busy = job is not None and not job.status.finished
        ready = bundled_variant() is not None
        if not ready:
            st.caption("Prepare the bundled model on the Models page first (about 30 s, once).")
        if st.button(
            "Run the offline demo",
            type="primary",
            icon=":material/play_arrow:",
            disabled=busy or not ready,
            key=f"run_rest_{project.id}",
            help="Sets the offline demo pair and loads the sample if the project has none.",
        ):
            try:
                submit_job("pipeline", demo_pipeline(project.id), project_id=project.id, title="Offline demo")
            except SlmopsError as exc:
                show_error(exc)
                return
            flash("The offline demo runs: each step appears on its page as it starts.", "info")
            st.rerun()
