"""The bundled offline model: prepare it once (a background job) and use it as the offline demo pair."""

from __future__ import annotations

import streamlit as st

from slmops_engine.bundled import bundled_variant, expected_bytes
from slmops_engine.errors import SlmopsError
from slmops_engine.jobs import submit_job
from slmops_engine.jobs.estimates import describe, outcome, span
from slmops_engine.models import Project
from slmops_engine.overview import latest_job
from slmops_engine.pipeline.demo import set_demo_pair
from slmops_engine.stages.prepare_model import STAGE, estimate
from slmops_engine.stages.prepare_model import Config as PrepareConfig

from .feedback import flash, models_scope, renew_widgets, show_error
from .format import human_bytes
from .jobs import live_job


def prepare_bundled_panel() -> bool:
    """Readiness of the bundled model, with a button to prepare it and its live progress. True when ready."""
    variant = bundled_variant()
    job = latest_job(STAGE.kind)
    if variant is not None:
        took = outcome(job) if job is not None and job.result and not job.result.get("reused") else None
        st.caption(f"The bundled model is ready ({human_bytes(variant.size_bytes)}). {took or ''}")
        return True
    if job is not None and not job.status.finished:
        live_job(job.id)
        return False
    if job is not None:
        live_job(job.id)  # shows why the last attempt failed
    size = expected_bytes()
    st.caption(
        "The bundled SmolLM2-135M-Instruct needs converting once before it can be used"
        + (f" ({human_bytes(size)} on disk afterwards)." if size else ".")
    )
    est = estimate(PrepareConfig())
    if st.button(
        f"Prepare the bundled model ({span(est.seconds)}, once)",
        key="prepare_bundled",
        icon=":material/download:",
        help=f"Estimated {describe(est)}.",
    ):
        try:
            submit_job(STAGE.kind, {}, title=STAGE.title)
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
        try:
            set_demo_pair(project.id)
        except SlmopsError as exc:
            show_error(exc)
            return
        renew_widgets(models_scope(project.id))  # the forms now show the pair, not what they showed before
        flash("Offline demo pair set: teacher and student are the bundled SmolLM2-135M.")
        st.rerun()
