"""The Data page's import flow: pick a source, confirm the column mapping, validate, then store."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from slmops_engine.data import (
    SHAPE_LABELS,
    ColumnMapping,
    FileInspection,
    inspect_file,
    save_upload,
    store_validated,
    validate,
)
from slmops_engine.data.validate import ValidationReport
from slmops_engine.errors import SlmopsError
from slmops_engine.models import Project

from .feedback import flash, show_error

STATE = "data_import"  # {"path", "name", "report", "mapping"} of the upload being reviewed
NONE = "—"


def staged_upload(uploaded) -> Path | None:
    """The staged copy of the uploaded file (not a dataset yet: nothing is stored until accepted), saved once per
    file; None after telling the operator why its name or type cannot be used."""
    state = st.session_state.setdefault(STATE, {})
    if state.get("name") != uploaded.name or not Path(state.get("path", "")).exists():
        try:
            path = save_upload(uploaded.name, uploaded)
        except SlmopsError as exc:
            show_error(exc)
            return None
        state.update(name=uploaded.name, path=str(path))
    return Path(state["path"])


def reset() -> None:
    state = st.session_state.pop(STATE, None)
    if state and state.get("report"):
        state["report"].discard()


def mapping_form(ins: FileInspection) -> ColumnMapping | None:
    """The guessed mapping, editable; opened when the guess is ambiguous."""
    guess = ins.guess.mapping
    st.markdown(f"**{len(ins.columns)} columns** found ({ins.format}): `{'`, `'.join(ins.columns)}`")
    if guess:
        st.caption(f"Detected: {SHAPE_LABELS[guess.shape]} — {ins.guess.reason}.")
    with st.expander("Column mapping", expanded=ins.guess.ambiguous or guess is None):
        if ins.guess.ambiguous:
            st.warning("Please confirm which column is which.", icon=":material/help:")
        shapes = list(SHAPE_LABELS)
        shape = st.selectbox(
            "The rows hold",
            shapes,
            index=shapes.index(guess.shape) if guess else 1,
            format_func=SHAPE_LABELS.__getitem__,
        )
        options = [NONE, *ins.columns]

        def pick(label: str, part: str, help_text: str) -> str | None:
            current = getattr(guess, part, None) if guess else None
            value = st.selectbox(
                label,
                options,
                index=options.index(current) if current in options else 0,
                help=help_text,
                key=f"map_{part}",
            )
            return None if value == NONE else value

        parts: dict[str, str | None] = {}
        if shape == "messages":
            parts["messages"] = pick("Messages column", "messages", "A list of {role, content} messages.")
        elif shape == "instruction":
            parts["instruction"] = pick("Instruction", "instruction", "What to do.")
            parts["input"] = pick("Input (optional)", "input", "Extra input appended to the instruction.")
            parts["output"] = pick("Output", "output", "The expected answer.")
        else:
            parts["prompt"] = pick("Prompt", "prompt", "What the user says.")
            if shape == "prompt_response":
                parts["response"] = pick("Response", "response", "The answer the student should learn.")
        parts["label"] = pick("Label (optional)", "label", "A class label, for classification tasks.")
        parts["system"] = pick("System prompt (optional)", "system", "A per-row system prompt.")
    try:
        return ColumnMapping(shape=shape, split=guess.split if guess else None, **parts)
    except ValueError as exc:
        st.error(str(exc))
        return None


def rejected_table(report: ValidationReport) -> None:
    st.warning(report.problems(), icon=":material/warning:")
    reasons = pd.DataFrame(report.reasons.most_common(), columns=["reason", "rows"])
    st.dataframe(reasons, hide_index=True, width="content")
    rows = pd.DataFrame(
        [(r.line, r.reason, r.content[:200]) for r in report.rejected[:200]], columns=["line", "reason", "content"]
    )
    st.dataframe(rows, hide_index=True, height=220)
    st.download_button(
        "Download the rejected rows (CSV)",
        report.rejected_csv(),
        file_name="rejected_rows.csv",
        mime="text/csv",
        icon=":material/download:",
    )


def review_and_store(project: Project, ins: FileInspection, tokenizer: Path | None) -> None:
    """Validate with the chosen mapping, show the report, and store on the operator's word."""
    state = st.session_state.setdefault(STATE, {})
    mapping = mapping_form(ins)
    max_length = None
    if tokenizer:
        max_length = st.number_input(
            "Reject rows longer than (tokens, counted with the student's tokenizer)",
            min_value=16,
            max_value=32768,
            value=1024,
            step=64,
        )
    else:
        st.caption("Choose the student on the Models page to also check row lengths with its tokenizer.")
    if mapping and st.button("Validate every row", icon=":material/rule:"):
        if state.get("report"):
            state["report"].discard()
        try:
            with st.spinner("Reading and checking every row…"):
                state["report"] = validate(ins, mapping, tokenizer_path=tokenizer, max_length=max_length)
            state["mapping"] = mapping
        except SlmopsError as exc:
            state.pop("report", None)
            show_error(exc)
    report: ValidationReport | None = state.get("report")
    if report is None or state.get("mapping") != mapping:
        return
    c1, c2, c3 = st.columns(3)
    c1.metric("Rows", report.total_rows)
    c2.metric("Valid", report.valid_rows)
    c3.metric("Rejected", report.n_rejected)
    if report.n_rejected:
        rejected_table(report)
    if report.valid_rows == 0:
        st.error("No valid rows: nothing can be imported. Fix the file and upload it again.")
        return
    name = st.text_input("Dataset name", value=ins.path.stem)
    verb = f"Import the {report.valid_rows} valid rows" if report.n_rejected else f"Import {report.valid_rows} rows"
    if st.button(verb, type="primary", icon=":material/save:"):
        try:
            ds = store_validated(
                report, ins, mapping, project_id=project.id, name=name.strip() or ins.path.stem, accept_partial=True
            )
        except SlmopsError as exc:
            show_error(exc)
            return
        st.session_state.pop(STATE, None)
        st.session_state["dataset_id"] = ds.id
        flash(f"Dataset “{ds.name}” stored: {ds.n_rows} rows.")
        st.rerun()


def inspect_source(path: Path) -> FileInspection | None:
    try:
        return inspect_file(path)
    except SlmopsError as exc:
        show_error(exc)
        return None
