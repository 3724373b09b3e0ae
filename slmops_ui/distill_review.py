"""The Distill page's review: the teacher's answers with their flags; keep, reject or edit; save a new version.

Unsaved choices live in Session State per dataset as row ids and edited texts: {"rejected", "kept", "edits"}."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from slmops_engine.errors import SlmopsError
from slmops_engine.models import Dataset, Project
from slmops_engine.synth.review import review_rows, reviewed_name, save_review
from slmops_engine.synth.views import (
    FLAG_HELP,
    FLAG_LABELS,
    answered_datasets,
    decisions,
    filter_rows,
    flag_counts,
    is_kept,
    row_flags,
)

from .distill_live import SELECT_REVIEW
from .feedback import flash, renew_widgets, show_error, widget_key
from .format import ago

STATE = "distill_review"
PAGE_SIZE = 200


@st.cache_data(show_spinner="Loading the answers…", max_entries=8)
def _rows(dataset_id: int, path: str) -> list[dict]:
    # Datasets are immutable: (id, folder) names one for good.
    return review_rows(dataset_id)


def _scope(ds_id: int) -> str:
    return f"distill_review_{ds_id}"


def _choices(ds_id: int) -> dict:
    return st.session_state.setdefault(STATE, {}).setdefault(ds_id, {"rejected": set(), "kept": set(), "edits": {}})


def _mark(ds_id: int, ids: list[str], keep: bool) -> None:
    """Bulk action (a button callback): keep or reject every row shown."""
    ch = _choices(ds_id)
    for rid in ids:
        (ch["kept"] if keep else ch["rejected"]).add(rid)
        (ch["rejected"] if keep else ch["kept"]).discard(rid)
    renew_widgets(_scope(ds_id))  # the table starts again from these choices


def pick_answered(project: Project, datasets: list[Dataset]) -> Dataset | None:
    """The answered dataset to review: the one just made, else the last one picked, else the newest."""
    answered = answered_datasets(datasets)
    if not answered:
        st.info("No answers to review yet. Start a run under **Ask the teacher**; its answers appear here.")
        return None
    ids = [d.id for d in answered]
    key = f"distill_{project.id}_review_dataset"
    pending = st.session_state.pop(SELECT_REVIEW, None)
    if pending in ids:
        st.session_state[key] = pending
    elif st.session_state.get(key) not in ids:
        st.session_state.pop(key, None)
    what = {"synth": "teacher answers", "review": "reviewed"}
    names = {d.id: f"#{d.id} {d.name} · {what.get(d.stage, d.stage)} · {ago(d.created_at)}" for d in answered}
    pick = st.selectbox("Answered dataset", ids, format_func=names.__getitem__, key=key)
    return next(d for d in answered if d.id == pick)


def _table(rows: list[dict], ch: dict, reject_flagged: bool) -> pd.DataFrame:
    def keep(r: dict) -> bool:
        return is_kept(r, ch["rejected"], ch["kept"], ch["edits"], reject_flagged)

    df = pd.DataFrame(
        {
            "keep": [keep(r) for r in rows],
            "prompt": [r["prompt"] for r in rows],
            "answer": [ch["edits"].get(r["id"], r["answer"]) for r in rows],
            "flags": [", ".join(FLAG_LABELS.get(f, f) for f in row_flags(r)) for r in rows],
            "original": [r["reference"] for r in rows],
            "reasoning": [r["reasoning"] for r in rows],
        },
        index=pd.Index([r["id"] for r in rows], name="row"),
    )
    return df


def _fold(shown: pd.DataFrame, edited: pd.DataFrame, rows: dict[str, dict], ch: dict) -> None:
    """Take what the operator changed in the table into the choices (only cells that differ from what was shown)."""
    for rid, was_keep, keep, was_answer, answer in zip(
        edited.index, shown["keep"], edited["keep"], shown["answer"], edited["answer"], strict=True
    ):
        if bool(keep) != bool(was_keep):
            (ch["kept"] if keep else ch["rejected"]).add(rid)
            (ch["rejected"] if keep else ch["kept"]).discard(rid)
        answer = "" if answer is None or (isinstance(answer, float) and math.isnan(answer)) else str(answer)
        if answer != was_answer:
            if answer == rows[rid]["answer"]:
                ch["edits"].pop(rid, None)
            else:
                ch["edits"][rid] = answer


def _editor(ds: Dataset, chunk: list[dict], ch: dict, reject_flagged: bool, view: str) -> None:
    shown = _table(chunk, ch, reject_flagged)
    columns = ["keep", "prompt", "answer", "flags"]
    columns += [c for c in ("original", "reasoning") if shown[c].notna().any()]
    edited = st.data_editor(
        shown,
        key=widget_key(f"distill_editor_{ds.id}_{view}", _scope(ds.id)),
        column_order=columns,
        disabled=["prompt", "flags", "original", "reasoning"],
        column_config={
            "keep": st.column_config.CheckboxColumn("Keep", help="Untick to leave this answer out.", width="small"),
            "prompt": st.column_config.TextColumn("Prompt", width=310),
            "answer": st.column_config.TextColumn("Teacher answer (double-click to edit)", width=290),
            "flags": st.column_config.TextColumn("Flags", help=FLAG_HELP, width=140),
            "original": st.column_config.TextColumn(
                "Original answer", help="The answer the data came with.", width=120
            ),
            "reasoning": st.column_config.TextColumn("Reasoning"),
        },
        height=min(38 + 35 * len(chunk), 560),
        width="stretch",
        hide_index=True,  # the row ids stay on the table's index, for the edits
    )
    _fold(shown, edited, {r["id"]: r for r in chunk}, ch)


def review_panel(project: Project, datasets: list[Dataset]) -> None:
    """Review one answered dataset and save the result as a new dataset version."""
    ds = pick_answered(project, datasets)
    if ds is None:
        return
    try:
        rows = _rows(ds.id, ds.path)
    except SlmopsError as exc:
        show_error(exc)
        return
    if not rows:
        st.info("This dataset has no answered training or validation rows.")
        return
    ch = _choices(ds.id)
    counts = flag_counts(rows)
    summary = st.container()
    left, mid, right = st.columns([2, 2, 3], vertical_alignment="bottom")
    views = ["all", "flagged", *sorted(counts)]
    n_view = {"all": len(rows), "flagged": sum(1 for r in rows if row_flags(r)), **counts}
    label = {"all": "All rows", "flagged": "Flagged rows", **FLAG_LABELS}
    view = left.selectbox(
        "Show", views, format_func=lambda v: f"{label.get(v, v)} ({n_view[v]})", key=f"distill_show_{ds.id}"
    )
    reject_flagged = mid.toggle(
        "Reject all flagged",
        key=f"distill_reject_flagged_{ds.id}",
        on_change=renew_widgets,
        args=(_scope(ds.id),),
        help="Leave out every flagged answer, except those you tick again or edit.",
    )
    shown = filter_rows(rows, view)
    n_pages = max(1, math.ceil(len(shown) / PAGE_SIZE))
    page = 1
    if n_pages > 1:
        page = int(right.number_input(f"Page (of {n_pages})", 1, n_pages, 1, key=f"distill_page_{ds.id}_{view}"))
    chunk = shown[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    if not chunk:
        st.caption("No rows to show.")
    else:
        st.caption(f"Rows {(page - 1) * PAGE_SIZE + 1}–{(page - 1) * PAGE_SIZE + len(chunk)} of {len(shown)}.")
        _editor(ds, chunk, ch, reject_flagged, f"{view}_{page}")
    ids = [r["id"] for r in shown]
    bulk = st.container(horizontal=True)
    bulk.button(
        f"Keep all {len(ids)} shown", key=f"distill_keep_shown_{ds.id}", on_click=_mark, args=(ds.id, ids, True)
    )
    bulk.button(
        f"Reject all {len(ids)} shown", key=f"distill_reject_shown_{ds.id}", on_click=_mark, args=(ds.id, ids, False)
    )

    dec = decisions(rows, ch["rejected"], ch["kept"], ch["edits"], reject_flagged)
    with summary:
        c = st.columns(4)
        c[0].metric("Answers", f"{len(rows):,}")
        c[1].metric("Flagged", f"{n_view['flagged']:,}", help="Answers a human should look at. " + FLAG_HELP)
        c[2].metric("Kept", f"{len(rows) - len(dec.rejected):,}")
        c[3].metric("Edited", f"{len(dec.edits):,}")
        if counts:
            st.caption("Flags: " + " · ".join(f"{FLAG_LABELS.get(k, k)} {n}" for k, n in counts.most_common()))
    _save(ds, rows, dec)


def _save(ds: Dataset, rows: list[dict], dec) -> None:
    test = ds.info.get("splits", {}).get("test")
    st.markdown(
        f"**Save as a new dataset:** {len(rows) - len(dec.rejected):,} answers kept, {len(dec.rejected):,} left out, "
        f"{len(dec.edits):,} edited." + (f" The test part ({test} rows) is copied unchanged." if test else "")
    )
    name_col, btn_col = st.columns([3, 1], vertical_alignment="bottom")
    name = name_col.text_input(
        "Name of the reviewed dataset", key=f"distill_review_name_{ds.id}", placeholder=reviewed_name(ds.name)
    )
    if btn_col.button("Save reviewed dataset", type="primary", icon=":material/save:", key=f"distill_save_{ds.id}"):
        try:
            new = save_review(ds.id, dec, name=name.strip() or None)
        except SlmopsError as exc:
            show_error(exc)
            return
        st.session_state.get(STATE, {}).pop(ds.id, None)
        renew_widgets(_scope(ds.id))
        st.session_state[SELECT_REVIEW] = new.id
        parts = ", ".join(f"{k} {v}" for k, v in new.info.get("splits", {}).items())
        flash(f"Saved “{new.name}”: {new.n_rows} rows ({parts}). The student can now learn from it.")
        st.rerun()
