"""The Fine-tune page's results: every fine-tuned model of the project, how each run went, the command line
that reproduces it, and adapters grouped by the base they share."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from slmops_engine.finetune.config import METHOD_LABELS
from slmops_engine.finetune.views import accuracy_note, result_row, too_few_to_judge
from slmops_engine.models import ModelVariant, Project
from slmops_engine.variants import adapter_siblings, list_variants

from .format import ago, human_bytes, human_duration


def _adapter(v: ModelVariant) -> str | None:
    return v.config.get("adapter_name") if v.config.get("adapter_path") else None


def _loss_note(v: ModelVariant) -> str:
    m = v.metrics or {}
    if m.get("eval_loss_start") is None or m.get("eval_loss_end") is None:
        return ""
    accuracy = f" · {accuracy_note(m)}" if accuracy_note(m) else ""
    return f" · validation loss {m['eval_loss_start']:.3f} → {m['eval_loss_end']:.3f}{too_few_to_judge(m)}{accuracy}"


def _table(rows: list[dict], names: dict[int, str]) -> pd.DataFrame:
    def loss(r: dict) -> str:
        if r["eval_start"] is None or r["eval_end"] is None:
            return ""
        return f"{r['eval_start']:.3f} → {r['eval_end']:.3f}"

    return pd.DataFrame(
        [
            {
                "Model": f"#{r['id']} {r['name']}",
                "Adapter": r["adapter"] or "—",
                "Validation loss (before → after)": loss(r),
                "Better by": f"{r['gain']:.0%}" if r["gain"] is not None else "",
                "Label accuracy (before → after)": f"{r['accuracy_start']:.0%} → {r['accuracy_end']:.0%}"
                if r["accuracy_start"] is not None and r["accuracy_end"] is not None
                else "—",
                "Steps": r["steps"],
                "Took": human_duration(r["seconds"]),
                "Size": human_bytes(r["size_bytes"]),
                "Adapter size": human_bytes(r["adapter_bytes"]) if r["adapter_bytes"] else "—",
                "Method": METHOD_LABELS.get(r["method"], r["method"]).split(" — ")[0],
                "Tokens per second": r["tokens_per_s"],
                "Base": names.get(r["base_id"], f"#{r['base_id']}") if r["base_id"] else "",
                "Made": ago(r["created_at"]),
            }
            for r in rows
        ]
    )


def _siblings(variants: list[ModelVariant], names: dict[int, str]) -> None:
    ours = {v.id for v in variants}
    bases = list(dict.fromkeys(v.parent_id for v in reversed(variants) if v.parent_id and _adapter(v)))
    groups = {b: [s for s in adapter_siblings(b) if s.id in ours] for b in bases}
    groups = {b: sibs for b, sibs in groups.items() if sibs}
    if not groups:
        return
    st.subheader("Adapters by base model")
    st.caption(
        "Adapters trained on the same base are small add-ons to one copy of it: several of them (say, one per "
        "task) can be served together. Give each run its own adapter name to build such a set."
    )
    for base, sibs in groups.items():
        kind = f"multi-adapter · {len(sibs)} adapters" if len(sibs) > 1 else "1 adapter"
        with st.container(border=True):
            st.markdown(f"**{names.get(base, f'Base #{base}')}** · {kind}")
            st.markdown("\n".join(f"- `{_adapter(s)}` — #{s.id}{_loss_note(s)}" for s in sibs))


def results_panel(project: Project) -> None:
    """The table of fine-tuned models, one model's details with its command line, and the adapter groups."""
    variants = list_variants(project.id, stage="finetune")
    if not variants:
        st.info("No fine-tuned models yet: start a run in the **Train** tab. Each finished run appears here.")
        return
    names = {v.id: v.name for v in list_variants(project.id)}
    st.dataframe(
        _table([result_row(v) for v in variants], names),
        hide_index=True,
        width="stretch",
        column_config={
            "Model": st.column_config.TextColumn(width="medium"),
            "Tokens per second": st.column_config.NumberColumn(format="%d"),
        },
    )
    st.caption(
        "Validation loss is measured on examples the student never trains on: lower after training means it "
        "learned the task. The merged model stands alone; the adapter is the small part that was trained."
    )
    labels = {v.id: f"#{v.id} {v.name}" + (f" · adapter {_adapter(v)}" if _adapter(v) else "") for v in variants}
    pick = st.selectbox("Details of", list(labels), format_func=labels.__getitem__, key=f"ft_{project.id}_result")
    v = next(x for x in variants if x.id == pick)
    st.markdown("**Command line that reproduces this run**")
    st.code(v.config.get("command", ""), language="bash", wrap_lines=True)
    where = [f"Merged model (standalone): `{v.artifact_path}`"]
    if v.config.get("adapter_path"):
        where.append(f"Adapter only: `{v.config['adapter_path']}`")
    st.caption("  \n".join(where))
    _siblings(variants, names)
