"""Home's 'Run the rest for me': the lifecycle steps this project has not done yet (distil → keep the unflagged
answers → fine-tune → int4 → evaluate → deploy) as one pipeline of ordinary jobs, each visible on its own page;
the demo pair and the sample fill in what the project does not have yet. Its file to download and run again."""

from __future__ import annotations

import streamlit as st

from slmops_engine.bundled import bundled_variant
from slmops_engine.errors import ModelLoadError, SlmopsError
from slmops_engine.jobs import list_jobs, submit_job
from slmops_engine.models import JobStatus, Project
from slmops_engine.pipeline.rest import demo_seconds, rest_pipeline
from slmops_engine.pipeline.spec import PipelineConfig, dump

from .demo import prepare_bundled_panel
from .feedback import flash, show_error
from .jobs import live_job
from .nav import link_to

STEP_WORDS = {
    "distil": "the teacher answers your examples",
    "keep": "the flagged answers are left out",
    "finetune": "the student is fine-tuned on them (quick preset)",
    "int4": "it is converted to int4 ONNX",
    "evaluate": "every variant is evaluated against the teacher",
    "deploy": "the int4 model is deployed",
}


def _is_demo_pair(cfg: PipelineConfig) -> bool:
    """Every step the chain runs uses the bundled model: the measured demo time applies."""
    bundled = bundled_variant()
    for step in cfg.steps:
        teacher = step.config.get("teacher")
        if teacher and not (bundled and teacher.get("local_path") == bundled.artifact_path):
            return False
        student = step.config.get("student")
        if student and student.get("source") != "bundled":
            return False
    return True


def _plan(project: Project) -> PipelineConfig | None:
    try:
        return rest_pipeline(project.id, save=False)
    except ModelLoadError:  # no teacher chosen and the bundled model not prepared: offer it here
        st.caption("With no teacher chosen yet, the bundled model plays teacher and student.")
        prepare_bundled_panel()
    except SlmopsError as exc:
        st.caption(f"{exc.message}. {exc.hint}")
    return None


def _describe(plan: PipelineConfig) -> None:
    words = "; ".join(STEP_WORDS.get(s.name, s.name) for s in plan.steps)
    done = [s for s in STEP_WORDS if s not in {p.name for p in plan.steps} and s != "keep"]
    text = f"Left to do: {words}."
    if done:
        text += f" Already done and reused: {', '.join(done)}."
    if _is_demo_pair(plan):
        text += f" About {max(1, round(demo_seconds(plan) / 60))} minutes on a 2-core laptop."
    st.caption(text + " Each step runs as its own job: watch it on its page, or leave.")


def run_rest_panel(project: Project) -> None:
    job = next((j for j in list_jobs(project.id) if j.kind == "pipeline"), None)
    with st.container(border=True):
        st.markdown("**Run the rest for me**")
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
        plan = None if busy else _plan(project)
        if plan is not None:
            _describe(plan)
        if st.button(
            "Run the rest for me",
            type="primary",
            icon=":material/play_arrow:",
            disabled=busy or plan is None,
            key=f"run_rest_{project.id}",
            help="Uses this project's teacher, student and newest data; where it has none yet, the offline demo "
            "pair (the bundled model) and the sample.",
        ):
            try:
                plan = rest_pipeline(project.id)
                submit_job("pipeline", plan, project_id=project.id, title="Run the rest")
            except SlmopsError as exc:
                show_error(exc)
                return
            flash("The remaining steps run: each one appears on its page as it starts.", "info")
            st.rerun()
