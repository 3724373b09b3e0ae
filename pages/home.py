"""Home: create or open a project, see where it stands in the lifecycle, and what this machine offers."""

from __future__ import annotations

import streamlit as st

from slmops_engine.errors import SlmopsError
from slmops_engine.projects import create_project, lifecycle, list_projects
from slmops_ui.cache import machine
from slmops_ui.feedback import flash, show_error, show_flash
from slmops_ui.format import human_bytes
from slmops_ui.nav import ensure_frame, page_for
from slmops_ui.project import current_project, select_project
from slmops_ui.run_rest import run_rest_panel

ensure_frame()

st.title("SLMOps Studio")
st.caption(
    "Turn example questions into a small, fast model of your own: choose a teacher and a student, add data, "
    "distill, fine-tune, shrink, deploy and compare — all on this machine."
)
show_flash()
project = current_project()
main, side = st.columns([3, 2], gap="large")

with main:
    if project is not None:
        st.header(project.name)
        st.write(project.goal or "_No goal written yet._")
        steps = lifecycle(project.id)
        st.progress(sum(s.done for s in steps) / len(steps), text=f"{sum(s.done for s in steps)} of {len(steps)} steps")
        for step in steps:
            text_col, link_col = st.columns([4, 1], vertical_alignment="center")
            mark = ":green[:material/check_circle:]" if step.done else ":material/radio_button_unchecked:"
            text_col.markdown(f"{mark} **{step.title}**  \n:gray[{step.detail}]")
            page = page_for(step.key)
            if page is not None:
                link_col.page_link(page.path, label="Open", icon=page.icon)
        nxt = next((s for s in steps if not s.done and page_for(s.key)), None)
        if nxt is not None:
            st.page_link(page_for(nxt.key).path, label=f"Next: {nxt.title}", icon=":material/arrow_forward:")
        run_rest_panel(project)
    else:
        st.subheader("Start here: create your first project")
        st.caption("A project keeps one task together: its models, data, training runs and results.")

    new_project = st.expander("Create a new project", expanded=project is None, icon=":material/add_circle:")
    with new_project, st.form("new_project", clear_on_submit=True, border=False):
        name = st.text_input("Project name", max_chars=80, placeholder="support-router")
        goal = st.text_input(
            "Goal, in one sentence",
            max_chars=500,
            placeholder="Route customer messages to billing, technical or sales.",
        )
        if st.form_submit_button("Create project", type="primary"):
            try:
                created = create_project(name, goal)
            except SlmopsError as exc:
                show_error(exc)
            else:
                select_project(created.id)
                flash(f"Project '{created.name}' created.")
                st.rerun()

    others = [p for p in list_projects() if project is None or p.id != project.id]
    if others:
        st.subheader("Other projects")
        for p in others[:20]:
            label_col, open_col = st.columns([4, 1], vertical_alignment="center")
            label_col.markdown(f"**{p.name}**  \n:gray[{p.goal or 'no goal'}]")
            if open_col.button("Open", key=f"open_project_{p.id}"):
                select_project(p.id)
                st.rerun()

with side:
    st.subheader("This machine")
    info = machine()
    st.metric("CPU", f"{info.cpu_count} cores", help=info.cpu_model)
    st.caption(info.cpu_model)
    st.metric("Memory free", human_bytes(info.ram_available), help="Available RAM right now.")
    st.caption(f"of {human_bytes(info.ram_total)} in total")
    st.metric("Disk free", human_bytes(info.disk_free), help="Free space where models and runs are stored.")
    if info.gpus:
        for gpu in info.gpus:
            st.success(f"**{gpu.name}** · {human_bytes(gpu.memory_free)} free of {human_bytes(gpu.memory_total)}")
    else:
        st.info("No GPU found: training runs on the CPU (slower, fine for small models). QLoRA needs a GPU.")
