"""The Data page's view of one stored dataset: statistics, preview through the chat template, split, export."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import plotly.express as px
import streamlit as st

from slmops_engine.data import SplitConfig, dataset_stats, export_jsonl, lineage, preview_rows, split_dataset
from slmops_engine.errors import SlmopsError
from slmops_engine.models import Dataset

from .feedback import flash, show_error


@st.cache_data(show_spinner="Counting…", max_entries=16)
def _stats(dataset_id: int, path: str, tokenizer: str | None):
    # Datasets are immutable: (id, folder) names one for good, even across storage homes.
    return dataset_stats(dataset_id, tokenizer)


def stats_panel(ds: Dataset, tokenizer: Path | None) -> None:
    st_ = _stats(ds.id, ds.path, str(tokenizer) if tokenizer else None)
    cols = st.columns([1, 2, 1, 1])  # the parts line needs the room: "train 240 / validation 27 / test 80"
    cols[0].metric("Rows", sum(st_.rows.values()))
    cols[1].metric("Parts", " / ".join(f"{k} {v}" for k, v in st_.rows.items()))
    cols[2].metric("Duplicates removed", st_.duplicates_removed)
    cols[3].metric("Rejected at import", st_.rejected)
    lengths = pd.DataFrame(
        {
            "length": st_.prompt_lengths + st_.response_lengths,
            "part": ["prompt"] * len(st_.prompt_lengths) + ["response"] * len(st_.response_lengths),
        }
    )
    left, right = st.columns(2)
    fig = px.histogram(
        lengths,
        x="length",
        color="part",
        barmode="overlay",
        nbins=40,
        labels={"length": f"length ({st_.unit})"},
        title=f"Length in {st_.unit} (training part)",
    )
    left.plotly_chart(fig, width="stretch")
    if st_.labels:
        rows = [(split, lab, n) for split, labs in st_.labels.items() for lab, n in labs.items()]
        bal = pd.DataFrame(rows, columns=["part", "label", "rows"])
        right.plotly_chart(
            px.bar(bal, x="label", y="rows", color="part", barmode="group", title="Label balance"), width="stretch"
        )
    else:
        right.info("No label column: label balance is shown for classification data.")


def preview_panel(ds: Dataset, tokenizer: Path | None, system_prompt: str | None) -> None:
    if tokenizer is None:
        st.info("Choose the student on the Models page to see rows exactly as it will see them.")
        return
    try:
        for text in preview_rows(ds.id, tokenizer, n=3, system_prompt=system_prompt):
            st.code(text, language=None, wrap_lines=True)
    except SlmopsError as exc:
        show_error(exc)


def split_panel(ds: Dataset) -> None:
    fields = SplitConfig.model_fields
    with st.form(f"split_{ds.id}"):
        c1, c2, c3 = st.columns(3)
        val = c1.slider("Validation share", 0.0, 0.5, 0.1, 0.05, help=fields["validation"].description)
        test = c2.slider("Test share", 0.0, 0.5, 0.1, 0.05, help=fields["test"].description)
        seed = c3.number_input("Seed", value=42, step=1, help=fields["seed"].description)
        strat = st.checkbox("Stratify by label", value=True, help=fields["stratify"].description)
        if st.form_submit_button("Make the split", icon=":material/call_split:"):
            try:
                new = split_dataset(ds.id, SplitConfig(validation=val, test=test, seed=int(seed), stratify=strat))
            except SlmopsError as exc:
                show_error(exc)
                return
            st.session_state["dataset_id"] = new.id
            flash(f"New dataset “{new.name}”: " + ", ".join(f"{k} {v}" for k, v in new.info["splits"].items()))
            st.rerun()


def export_panel(ds: Dataset) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"dataset-{ds.id}.jsonl"
        export_jsonl(ds.id, out)
        st.download_button(
            "Download as JSONL",
            out.read_bytes(),
            file_name=out.name,
            mime="application/jsonl",
            icon=":material/download:",
        )


def lineage_caption(ds: Dataset) -> str:
    chain = lineage(ds.id)
    return " ← ".join(f"#{d.id} {d.name} ({d.stage})" for d in chain)
