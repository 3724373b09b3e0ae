"""The selected project: kept in Session State and in the URL (?project=ID) so a reload recovers it.

Only the id is kept; pages load the row from the database on every run."""

from __future__ import annotations

import streamlit as st

from slmops_engine.errors import NotFoundError
from slmops_engine.models import Project
from slmops_engine.projects import get_project, list_projects

from .nav import page_for

SELECTED = "project_id"
PICKER = "project_picker"
QUERY_PARAM = "project"


def select_project(project_id: int | None) -> None:
    """Make this the selected project (takes effect in the sidebar on the next run)."""
    st.session_state[SELECTED] = project_id
    if project_id is None:
        st.query_params.pop(QUERY_PARAM, None)
    else:
        st.query_params[QUERY_PARAM] = str(project_id)


def _resolve(projects: list[Project]) -> int | None:
    """Session first, then the URL, then the most recent project; None only when there is no project."""
    ids = [p.id for p in projects]
    pid = st.session_state.get(SELECTED)
    if pid not in ids:
        raw = st.query_params.get(QUERY_PARAM, "")
        pid = int(raw) if raw.isdigit() else None
    if pid not in ids:
        pid = ids[0] if ids else None
    return pid


def _picked() -> None:
    select_project(st.session_state[PICKER])


def project_selector() -> int | None:
    """The sidebar's project picker; also keeps Session State and the URL in step. Returns the selected id."""
    projects = list_projects()
    pid = _resolve(projects)
    if st.session_state.get(SELECTED) != pid or st.query_params.get(QUERY_PARAM) != (str(pid) if pid else None):
        select_project(pid)  # page switches drop query params: put it back
    if pid is None:
        st.caption("No project yet — create one on Home.")
        return None
    names = {p.id: p.name for p in projects}
    st.session_state[PICKER] = pid  # a project chosen on a page (e.g. just created) shows here too
    st.selectbox("Project", list(names), format_func=names.__getitem__, key=PICKER, on_change=_picked)
    return pid


def current_project() -> Project | None:
    """The selected project, fresh from the database."""
    pid = st.session_state.get(SELECTED)
    if pid is None:
        return None
    try:
        return get_project(int(pid))
    except NotFoundError:
        return None


def require_project() -> Project:
    """The selected project, or a pointer to Home and a stop when there is none."""
    project = current_project()
    if project is None:
        st.info("Create or select a project first — it keeps your models, data and results together.")
        home = page_for("home")
        if home:
            st.page_link(home.path, label="Go to Home", icon=home.icon)
        st.stop()
    return project
