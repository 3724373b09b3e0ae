"""The bundled offline model: prepare it once (a background job) and use it as the offline demo pair."""

from __future__ import annotations

import streamlit as st

from slmops_engine.errors import SlmopsError
from slmops_engine.jobs import submit_job
from slmops_engine.models import Project
from slmops_engine.overview import latest_job
from slmops_engine.projects import project_teacher, set_student, set_teacher
from slmops_engine.stages.prepare_model import KIND, TITLE, bundled_variant
from slmops_engine.students import bundled_choice
from slmops_engine.teachers import Provider, TeacherConfig

from .feedback import flash, models_scope, renew_widgets, show_error
from .format import human_bytes
from .jobs import live_job

DEMO_SHOTS = 4
DEMO_PROMPT = "You are a careful assistant. Follow the task exactly and answer briefly, in the format asked for."


def demo_system_prompt(project: Project) -> str:
    """Keep instructions the operator already wrote; otherwise start from the project's goal."""
    teacher = project_teacher(project)
    if teacher and teacher.system_prompt:
        return teacher.system_prompt
    return f"{DEMO_PROMPT} Task: {project.goal}" if project.goal else DEMO_PROMPT


def prepare_bundled_panel() -> bool:
    """Readiness of the bundled model, with a button to prepare it and its live progress. True when ready."""
    variant = bundled_variant()
    if variant is not None:
        st.caption(f"The bundled model is ready ({human_bytes(variant.size_bytes)}).")
        return True
    job = latest_job(KIND)
    if job is not None and not job.status.finished:
        live_job(job.id)
        return False
    if job is not None:
        live_job(job.id)  # shows why the last attempt failed
    st.caption("The bundled SmolLM2-135M-Instruct (270 MB) needs converting once before it can be used.")
    if st.button("Prepare the bundled model (~30 s, once)", key="prepare_bundled", icon=":material/download:"):
        try:
            submit_job(KIND, {}, title=TITLE)
        except SlmopsError as exc:
            show_error(exc)
            return False
        st.rerun()
    return False


def demo_pair(project: Project) -> None:
    """Teacher = the bundled model prompted with instructions; student = the same model without them."""
    st.markdown(
        "No internet or GPU? The **offline demo pair** uses the bundled SmolLM2-135M as both teacher "
        "(prompted with your instructions) and student (without them), so the whole loop runs on this machine."
    )
    ready = prepare_bundled_panel()
    if st.button("Use the offline demo pair", key="use_demo_pair", disabled=not ready, type="primary"):
        variant = bundled_variant()
        if variant is None:
            st.warning("The bundled model is not prepared yet.")
            return
        teacher = TeacherConfig(
            provider=Provider.local,
            local_path=variant.artifact_path,
            system_prompt=demo_system_prompt(project),
            example_shots=DEMO_SHOTS,  # a 135M model follows close examples far better than instructions
        )
        set_student(project.id, bundled_choice())
        set_teacher(project.id, teacher)
        renew_widgets(models_scope(project.id))  # the forms now show the pair, not what they showed before
        flash("Offline demo pair set: teacher and student are the bundled SmolLM2-135M.")
        st.rerun()
