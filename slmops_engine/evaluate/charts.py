"""Plotly figures of an evaluation (an EvaluationResult), shared by the Evaluate page and
the HTML report. Failed variants are left out; a chart with nothing to show says so in its title."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..errors import ConfigError
from .labels import SHARES, colors, label
from .labels import short_name as name_of
from .result import EvaluationResult, VariantResult

MB = 1e6
TRADEOFF_AXES = {"size_bytes": "Size (MB)", "latency_p50_ms": "Latency p50 (ms)"}
# The legend goes under the plot: variant names would otherwise squeeze the plot to half the width.
_LAYOUT = {
    "template": "plotly_white",
    "margin": {"l": 10, "r": 10, "t": 60, "b": 10},
    "legend": {"orientation": "h", "yanchor": "top", "y": -0.18, "xanchor": "left", "x": 0, "title_text": ""},
}


def _empty(title: str, why: str) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(
        title=f"{title}: {why}",
        xaxis={"visible": False},
        yaxis={"visible": False},
        annotations=[{"text": why, "showarrow": False, "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5}],
        **_LAYOUT,
    )
    return fig


def _scale(name: str, value: float | None) -> float | None:
    return None if value is None else value * 100 if name in SHARES else value


def default_metrics(ev: EvaluationResult) -> list[str]:
    """The primary metric, then every other quality measure that some variant has."""
    primary = ev.primary_metric
    found = [m for m in (*SHARES, "judge_score") if any(v.metric(m) is not None for v in ev.ok_variants)]
    return [primary, *[m for m in found if m != primary]]


def metric_bars(ev: EvaluationResult, metrics: Sequence[str] | None = None) -> go.Figure:
    """Grouped bars: one group per metric, one bar (and colour) per variant; quality shares in %. A measure on
    another scale (the judge's 1–10) gets its own panel."""
    title = "Quality per variant"
    variants = ev.ok_variants
    wanted = list(metrics) if metrics is not None else default_metrics(ev)
    wanted = [m for m in wanted if any(v.metric(m) is not None for v in variants)]
    if not variants or not wanted:
        return _empty(title, "no variant has a quality score")
    shares = [m for m in wanted if m in SHARES]
    panels = ([shares] if shares else []) + [[m] for m in wanted if m not in SHARES]
    titles = ["Quality (%)" if p is shares else label(p[0]) for p in panels]
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=titles, column_widths=[len(p) for p in panels])
    palette = colors(ev)
    for col, panel in enumerate(panels, start=1):
        for v in variants:
            ys = [_scale(m, v.metric(m)) for m in panel]
            fig.add_bar(
                x=[label(m) for m in panel],
                y=ys,
                name=name_of(v),
                legendgroup=name_of(v),
                showlegend=col == 1,
                marker_color=palette[str(v.id)],
                text=[("" if y is None else f"{y:.0f}" if panel is shares else f"{y:.1f}") for y in ys],
                textposition="outside",
                row=1,
                col=col,
            )
        if panel is shares:
            fig.update_yaxes(range=[0, 105], ticksuffix="%", row=1, col=col)
    fig.update_layout(title=title, barmode="group", height=420, **_LAYOUT)
    return fig


def _front(ids: Sequence) -> set[str]:
    return {str(i) for i in ids or []}


def tradeoff(ev: EvaluationResult, x: str = "size_bytes") -> go.Figure:
    """Quality (the primary metric) against size (MB) or latency: one labelled point per variant; the Pareto front
    (no other variant is both better and smaller/faster) is highlighted and joined by a line."""
    if x not in TRADEOFF_AXES:
        raise ConfigError(f"No trade-off chart against '{x}'", f"Use one of: {', '.join(TRADEOFF_AXES)}.")
    primary = ev.primary_metric
    what = "size" if x == "size_bytes" else "latency"
    title = f"{label(primary)} vs {what}"
    front = _front(ev.pareto if x == "size_bytes" else ev.pareto_latency)
    points, left_out = [], []
    for v in ev.ok_variants:
        xv, yv = v.metric(x), v.metric(primary)
        if xv is None or yv is None:
            left_out.append(name_of(v))
            continue
        points.append((xv / MB if x == "size_bytes" else xv, _scale(primary, yv), v))
    if left_out:
        title += f" (left out, not measured: {', '.join(left_out)})"
    if not points:
        return _empty(title, f"no variant has both {label(primary)} and {what}")
    palette = colors(ev)
    on_front = sorted((p for p in points if str(p[2].id) in front), key=lambda p: p[0])
    fig = go.Figure()
    if on_front:
        fig.add_scatter(
            x=[p[0] for p in on_front],
            y=[p[1] for p in on_front],
            mode="lines",
            name="Pareto front",
            line={"color": "#111827", "dash": "dot", "width": 2},
            hoverinfo="skip",
        )
    for xv, yv, v in points:
        best = str(v.id) in front
        fig.add_scatter(
            x=[xv],
            y=[yv],
            mode="markers+text",
            name=name_of(v) + (" ★" if best else ""),
            text=[name_of(v)],
            textposition="top center",
            marker={
                "color": palette[str(v.id)],
                "size": 16 if best else 10,
                "symbol": "star" if best else "circle",
                "line": {"color": "#111827", "width": 1.5 if best else 0},
            },
        )
    unit = "%" if primary in SHARES else ""
    fig.update_layout(
        title=title,
        xaxis_title=f"{TRADEOFF_AXES[x]}: smaller is better",
        yaxis={"title": f"{label(primary)}: higher is better", "ticksuffix": unit},
        height=440,
        **_LAYOUT,
    )
    return fig


def _latencies(v: VariantResult) -> tuple[list[float], bool]:
    """The variant's answer latencies: only the timed ones (answered one at a time) when there are any."""
    samples = [s for s in v.samples if s.latency_ms is not None]
    timed = [s for s in samples if s.timed is True]
    return [s.latency_ms for s in (timed or samples)], bool(timed)


def latency_box(ev: EvaluationResult) -> go.Figure:
    """The spread of answer latency per variant (a box with every answer as a point)."""
    title = "Latency per answer"
    palette = colors(ev)
    fig, any_timed, shown = go.Figure(), False, 0
    for v in ev.ok_variants:
        values, timed = _latencies(v)
        if not values:
            continue
        any_timed |= timed
        shown += 1
        fig.add_box(
            y=values,
            name=name_of(v),
            marker_color=palette[str(v.id)],
            boxpoints="all",
            jitter=0.4,
            pointpos=0,
        )
    if not shown:
        return _empty(title, "no answer latency was measured")
    if any_timed:
        title += " (timed rows: answered one at a time)"
    fig.update_layout(title=title, yaxis_title="ms", showlegend=False, height=400, **_LAYOUT)
    return fig


COST_PANELS = (
    ("size_bytes", "Size (MB)", MB),
    ("peak_rss_bytes", "Peak memory (MB)", MB),
    ("tokens_per_s", "Tokens/s", 1),
)


def cost_bars(ev: EvaluationResult) -> go.Figure:
    """Size, peak memory and speed side by side: horizontal bars sharing the variant names."""
    title = "What each variant costs to run"
    variants = [v for v in ev.ok_variants if any(v.metric(m) is not None for m, _, _ in COST_PANELS)]
    if not variants:
        return _empty(title, "no size, memory or speed was measured")
    palette = colors(ev)
    names = [name_of(v) for v in variants]
    fig = make_subplots(rows=1, cols=len(COST_PANELS), shared_yaxes=True, subplot_titles=[t for _, t, _ in COST_PANELS])
    for col, (m, _, div) in enumerate(COST_PANELS, start=1):
        xs = [None if v.metric(m) is None else v.metric(m) / div for v in variants]
        fig.add_bar(
            x=xs,
            y=names,
            orientation="h",
            marker_color=[palette[str(v.id)] for v in variants],
            text=["n/a" if x is None else f"{x:,.1f}" for x in xs],
            textposition="auto",
            showlegend=False,
            row=1,
            col=col,
        )
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(title=title, height=120 + 40 * len(variants), **_LAYOUT)
    return fig


def all_charts(ev: EvaluationResult) -> list[tuple[str, go.Figure]]:
    """Every chart of an evaluation, keyed by a short name (the report's order)."""
    return [
        ("quality", metric_bars(ev)),
        ("tradeoff_size", tradeoff(ev, "size_bytes")),
        ("tradeoff_latency", tradeoff(ev, "latency_p50_ms")),
        ("latency", latency_box(ev)),
        ("cost", cost_bars(ev)),
    ]


__all__ = ["all_charts", "cost_bars", "default_metrics", "latency_box", "metric_bars", "tradeoff"]
