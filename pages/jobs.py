"""Jobs: everything the background runner did or is doing for this project, live."""

from __future__ import annotations

import streamlit as st

from slmops_engine.models import JobStatus
from slmops_engine.overview import job_makers, jobs_for_project
from slmops_ui.jobs import job_card
from slmops_ui.live import follow
from slmops_ui.nav import ensure_frame
from slmops_ui.project import current_project

ensure_frame()

LIMIT = 50

project = current_project()
st.title("Jobs")
st.caption(
    "Long work (preparing models, generating data, training, converting) runs in the background: you can close "
    "the browser and come back. "
    + (f"Showing project **{project.name}** and shared jobs." if project else "Showing all jobs.")
)


def job_list(project_id: int | None, made_by: str | None) -> None:
    """All jobs of the project (of one person's, when chosen), newest first, from the database."""
    jobs = jobs_for_project(project_id, limit=LIMIT, made_by=made_by)
    if not jobs:
        st.info("No jobs yet. Jobs appear here when you prepare a model or start a stage.")
        return
    counts = {s: sum(j.status == s for j in jobs) for s in JobStatus}
    cols = st.columns(len(counts))
    for col, (status, n) in zip(cols, counts.items(), strict=True):
        col.metric(status.value.capitalize(), n)
    for job in jobs:
        job_card(job)
    if len(jobs) == LIMIT:
        st.caption(f"Showing the {LIMIT} most recent jobs.")


pid = project.id if project else None
makers = job_makers(pid)
who = None
if len(makers) > 1:  # a shared studio: whose jobs
    who = st.selectbox("Made by", [None, *makers], format_func=lambda m: m or "Everyone", key="jobs_made_by")
follow(
    lambda: job_list(pid, who),
    lambda: any(not j.status.finished for j in jobs_for_project(pid, limit=LIMIT, made_by=who)),
)
