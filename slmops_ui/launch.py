"""Preflight issues and the Start button every stage page shares."""

from __future__ import annotations

from collections.abc import Mapping

import streamlit as st
from pydantic import BaseModel, ValidationError

from slmops_engine.errors import SlmopsError
from slmops_engine.jobs import submit_job
from slmops_engine.stage_api import Issue

from .feedback import flash, show_error, show_failure, show_validation_error


def show_issues(issues: list[Issue]) -> bool:
    """Render preflight issues (errors, warnings, notes); True when one of them blocks Start."""
    for issue in issues:
        text = f"**{issue.title}**  \n{issue.detail}".replace("$", "\\$")
        if issue.blocking:
            show_failure(issue.title, issue.detail)
        elif issue.level == "warning":
            st.warning(text, icon=":material/warning:")
        else:
            st.info(text, icon=":material/info:")
    return any(i.blocking for i in issues)


def start_button(
    *,
    kind: str,
    cfg: BaseModel | None,
    project_id: int,
    title: str,
    label: str,
    key: str,
    blocked: bool,
    busy: bool,
    started: str,
    labels: Mapping[str, str] | None = None,
) -> None:
    """Start (disabled on errors or while a run is going): submits the job, then reruns with a notice."""
    reason = "A run is already going: wait for it, or cancel it above." if busy else None
    if not st.button(
        label,
        type="primary",
        icon=":material/play_arrow:",
        key=key,
        disabled=blocked or busy,
        help=reason or ("Fix the problems above first." if blocked else "Runs in the background; you can leave."),
    ):
        return
    try:
        job = submit_job(kind, cfg, project_id=project_id, title=title)
    except ValidationError as exc:
        show_validation_error(exc, labels)
        return
    except SlmopsError as exc:
        show_error(exc)
        return
    flash(started.format(job=job), "info")
    st.rerun()


def next_run_settings(busy: bool, first_run: bool):
    """Where a stage page puts its settings: out of the way (an expander) while a run is going, else in the page."""
    if busy:  # one run at a time
        st.caption("One run at a time: when this one ends you can start another below.")
        return st.expander("Settings for the next run", icon=":material/tune:")
    st.subheader("New run" if first_run else "Another run")
    return st.container()
