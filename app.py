"""SLMOps Studio: the frame around every page — page config, database, job supervisor, sidebar and navigation.

Run with `make run` (or `streamlit run app.py`). Pages live in pages/ and only render and call the engine."""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st
from sqlalchemy.engine import Engine

from slmops_engine.db import init_db
from slmops_engine.jobs.supervisor import ensure_supervisor, supervisor_pid
from slmops_engine.settings import get_settings
from slmops_ui.jobs import job_monitor
from slmops_ui.nav import build_navigation, frame
from slmops_ui.project import project_selector
from slmops_ui.sign_in import gate

ICON = "slmops_ui/assets/favicon.png"

# The icon is a file the app serves itself: a ":material/…:" page icon is fetched from a Google host on every load.
PAGE_ICON = str(Path(__file__).parent / ICON)
st.set_page_config(page_title="SLMOps Studio", page_icon=PAGE_ICON, layout="wide")


@st.cache_resource(show_spinner=False)
def database(db_url: str) -> Engine:
    """Create the tables once per server (per database)."""
    return init_db(db_url)


# validate: a supervisor that died (its lock is free) is started again on the next page run.
@st.cache_resource(show_spinner="Starting the job runner…", validate=lambda _pid: supervisor_pid() is not None)
def job_supervisor(home: str) -> int | None:
    """One background supervisor per storage home (it outlives the app; running jobs survive a restart)."""
    return ensure_supervisor()


settings = get_settings()
database(settings.db_url)
allowed = gate(settings)  # a shared dashboard shows nothing before sign-in
if os.environ.get("SLMOPS_NO_SUPERVISOR") != "1":  # tests drive their own supervisor
    job_supervisor(str(settings.home))

# The pages are registered either way, so the address asked for (/data ...) is the page shown once signed in.
page = build_navigation("sidebar" if allowed else "hidden")
if not allowed:
    st.stop()
with st.sidebar:
    project_selector()
    st.divider()
    job_monitor()
with frame():
    page.run()
