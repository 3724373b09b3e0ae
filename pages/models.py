"""Models: the teacher that writes example answers and the student that learns from them."""

from __future__ import annotations

import streamlit as st

from slmops_engine.projects import project_student, project_teacher
from slmops_engine.teachers import PRESETS, Provider
from slmops_ui.demo import demo_pair
from slmops_ui.feedback import show_flash
from slmops_ui.nav import ensure_frame, link_to
from slmops_ui.project import require_project
from slmops_ui.student_picker import student_picker
from slmops_ui.teacher_form import teacher_form

ensure_frame()

project = require_project()
st.title("Models")
st.caption(
    f"Project **{project.name}**. The **teacher** (a large model, or a well-prompted small one) writes example "
    "answers; the **student** (a small model) learns from them and becomes fast and cheap to run."
)
show_flash()

teacher, student = project_teacher(project), project_student(project)
t_col, s_col = st.columns(2)
with t_col.container(border=True):
    st.markdown("**Teacher**")
    if teacher is None:
        st.caption("Not chosen yet")
    elif teacher.provider == Provider.local:
        st.write(f"{PRESETS[teacher.provider].label}: `{teacher.local_path}`")
    else:
        st.write(f"{PRESETS[teacher.provider].label}: {teacher.model} at {teacher.base_url}")
with s_col.container(border=True):
    st.markdown("**Student**")
    if student is None:
        st.caption("Not chosen yet")
    else:
        st.write(student.label)

with st.expander("Quick start: the offline demo pair", expanded=teacher is None or student is None):
    demo_pair(project)

teacher_tab, student_tab = st.tabs(["Teacher", "Student"])
with teacher_tab:
    teacher_form(project)
with student_tab:
    student_picker(project)
if project_teacher(project) and project_student(project):  # read again: a choice above may have just been saved
    link_to("data", "Next: bring your examples on Data")
