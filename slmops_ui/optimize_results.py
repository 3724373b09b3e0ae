"""The Optimize page's results: the source and its conversions side by side (size, quality kept, speed), the
detailed numbers, and the plain-language recommendation."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from slmops_engine.models import ModelVariant
from slmops_engine.optimize.convert import conversions_of, has_recommendation, recommendation
from slmops_engine.optimize.views import comparison

from .format import compact_duration, human_bytes

SOURCE_COLOR, ONNX_COLOR = "#94a3b8", "#2563eb"


def _pct(x: float | None) -> str:
    return f"{x:.0%}" if x is not None else "—"


def _num(x: float | None, fmt: str = "{:,.1f}", unit: str = "") -> str:
    return fmt.format(x) + unit if x is not None else "—"


def _times(x: float | None) -> str:
    """'×1.25', '×445': how many times faster than the original."""
    if x is None:
        return "—"
    return f"×{x:,.0f}" if x >= 10 else f"×{x:.2f}"


def _chart(source_id: int, rows: list[dict]) -> None:
    # Horizontal bars on one shared model axis: the names stay readable and each row reads across.
    labels = [r["label"] for r in rows][::-1]
    rows = rows[::-1]
    colors = [ONNX_COLOR] * (len(rows) - 1) + [SOURCE_COLOR]
    fig = make_subplots(
        rows=1,
        cols=3,
        shared_yaxes=True,
        subplot_titles=(
            "Size on disk — smaller is better",
            "Quality kept — higher is better",
            "Answer speed — higher is better",
        ),
        horizontal_spacing=0.04,
    )
    sizes = [(r["size_bytes"] or 0) / 1e6 for r in rows]
    size_text = [f"{human_bytes(r['size_bytes'])} · {_pct(r['size_ratio'])}" for r in rows]
    kept = [r["kept"] * 100 if r["kept"] is not None else 0 for r in rows]
    kept_text = [_pct(r["kept"]) if r["kept"] is not None else "not checked" for r in rows]
    speed = [r["tokens_per_s"] or 0 for r in rows]
    speed_text = [
        f"{r['tokens_per_s']:,.0f}" + (f" · {_times(r['speedup'])}" if r["speedup"] else "")
        if r["tokens_per_s"]
        else "not checked"
        for r in rows
    ]
    for col, (x, text, name) in enumerate(
        [(sizes, size_text, "size (MB)"), (kept, kept_text, "quality kept (%)"), (speed, speed_text, "tokens/s")], 1
    ):
        bar = go.Bar(x=x, y=labels, text=text, orientation="h", marker_color=colors, name=name, hoverinfo="x+y")
        fig.add_trace(bar, 1, col)
    fig.update_traces(textposition="outside", textangle=0, cliponaxis=False)
    fig.update_xaxes(title_text="MB", row=1, col=1)
    fig.update_xaxes(title_text="% of the original's quality", range=[0, 135], row=1, col=2)
    fig.update_xaxes(title_text="tokens per second", row=1, col=3)
    for col, values in ((1, sizes), (3, speed)):  # room for the labels outside the longest bar
        if max(values, default=0) > 0:
            fig.update_xaxes(range=[0, 1.6 * max(values)], row=1, col=col)
        else:  # nothing measured: no scale of nanoseconds, just the "not checked" labels
            fig.update_xaxes(range=[0, 1], showticklabels=False, row=1, col=col)
    fig.update_layout(height=140 + 46 * len(rows), showlegend=False, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    fig.update_annotations(font_size=13)
    st.plotly_chart(fig, key=f"optimize_compare_{source_id}", config={"displayModeBar": False})
    st.caption(
        "Grey: the original model. Percentages next to the sizes are of the original's size; ×N next to the "
        "speed is how many times faster than the original it answers."
    )


# Short headers, and each share beside its figure, so the whole table fits beside the sidebar; what each column
# means is in its help (hover the header).
COLUMNS = {
    "Model": "The original (PyTorch) model or one of its conversions.",
    "Size": "Size of the model's files on disk, and its share of the original's.",
    "Quality kept": "Quick check: the conversion's score as a share of the original's on the same examples.",
    "Perplexity": "How surprised the model is by the reference answers: lower is better.",
    "ROUGE-L": "Overlap of the answers with the reference answers: higher is better.",
    "Tokens/s": "Tokens generated a second on this machine, and how many times the original's.",
    "First token": "Time until the first token of an answer.",
    "Memory": "Peak memory while answering.",
    "Built in": "How long the conversion took.",
}


def _table(rows: list[dict]) -> pd.DataFrame:
    values = [
        [
            r["label"],
            f"{human_bytes(r['size_bytes'])} ({_pct(r['size_ratio'])})" if r["size_bytes"] else "—",
            _pct(r["kept"]),
            _num(r["perplexity"], "{:,.2f}"),
            _num(r["rouge_l"], "{:.3f}"),
            _num(r["tokens_per_s"], "{:,.0f}") + (f" ({_times(r['speedup'])})" if r["speedup"] else ""),
            _num(r["ttft_ms"], "{:,.0f}", " ms"),
            _num(r["memory_mb"], "{:,.0f}", " MB"),
            compact_duration(r["build_seconds"]) or "—",
        ]
        for r in rows
    ]
    return pd.DataFrame(values, columns=list(COLUMNS))


def _column_config() -> dict:
    return {name: st.column_config.TextColumn(name, help=text) for name, text in COLUMNS.items()}


def _advice(source_id: int, rows: list[dict]) -> None:
    if not any(r["kept"] is not None for r in rows[1:]):
        st.info(
            "No quality check was run on these conversions, so there is no recommendation yet: convert again with "
            "data chosen for the quick quality check.",
            icon=":material/info:",
        )
        return
    text = recommendation(source_id)
    if has_recommendation(source_id):
        st.success(f"**Recommendation:** {text}", icon=":material/recommend:")
    else:
        st.warning(f"**Recommendation:** {text}", icon=":material/warning:")


def results_panel(source: ModelVariant) -> None:
    """The comparison of a source and its conversions; nothing when it has none yet."""
    conversions = conversions_of(source.id)
    if not conversions:
        return
    st.subheader("Compare")
    rows = comparison(source, conversions)
    _advice(source.id, rows)
    _chart(source.id, rows)
    checked = [r["rows"] for r in rows if r["rows"]]
    st.dataframe(_table(rows), hide_index=True, width="stretch", column_config=_column_config())
    st.caption(
        (f"Quality measured on {max(checked)} examples the models answered side by side. " if checked else "")
        + "**Quality kept**: how close the converted model's answers stay to the original's (100% = no loss). "
        "**Perplexity**: how surprised the model is by the right answers. **ROUGE-L**: word overlap of its answers "
        "with the right ones. Speed is measured on this machine."
    )
    _adapter_sets(conversions)


def _adapter_sets(conversions: list[ModelVariant]) -> None:
    """Multi-adapter conversions: their adapter files and what each one answered to the test prompt."""
    for v in conversions:
        adapters = v.metrics.get("adapters") or []
        if not adapters:
            continue
        with st.expander(f"{v.name}: {len(adapters)} switchable adapters", icon=":material/layers:"):
            st.caption(
                f"One base of {human_bytes(v.size_bytes)}; each adapter file is switched on when generating. "
                f"Base model's answer to the test prompt: “{v.metrics.get('verify_reply', '')}”"
            )
            table = [
                {
                    "Adapter": a["name"],
                    "File size": human_bytes(a["size_bytes"]),
                    "Answer to the test prompt": a.get("verify_reply", ""),
                    "Changes the answer": "yes" if a.get("differs_from_base") else "no",
                }
                for a in adapters
            ]
            st.dataframe(pd.DataFrame(table), hide_index=True, width="stretch")
