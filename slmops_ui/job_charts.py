"""A job's metric points as charts an operator can read: one panel per family of metrics (losses together, speed
apart, memory apart), each on its own axis, in plain names; nothing drawn where there is no line to draw."""

from __future__ import annotations

import pandas as pd

KIND_NAMES = {
    "prepare_model": "model preparation",
    "synth": "teacher run",
    "finetune": "fine-tune",
    "convert": "conversion",
    "evaluate": "evaluation",
    "pipeline": "pipeline",
}
X_LABELS = {"synth": "seconds since the start", "finetune": "training step"}
# metric → (family panel, plain name)
METRICS: dict[str, tuple[str, str]] = {
    "loss": ("Loss", "training loss"),
    "eval_loss": ("Loss", "validation loss"),
    "ce_loss": ("Loss", "loss on the answers"),
    "kl_loss": ("Loss", "distance to the teacher"),
    "learning_rate": ("Learning rate", "learning rate"),
    "grad_norm": ("Gradient size", "gradient norm"),
    "tokens_per_s": ("Speed (tokens/s)", "tokens per second"),
    "ram_gb": ("Memory (GB)", "memory in use"),
    "answered": ("Answers", "answered"),
    "failed": ("Answers", "given up"),
    "retries": ("Answers", "retried"),
    "cost": ("Cost ($)", "cost so far"),
}


def kind_name(kind: str) -> str:
    return KIND_NAMES.get(kind, kind.replace("_", " "))


def metric_frame(points) -> pd.DataFrame:
    """Points → rows of (step, value, family, metric) for the metrics with a line to draw (two points or more)."""
    rows = []
    for p in points:
        family, name = METRICS.get(p.name, (p.name, p.name.replace("_", " ")))  # an unknown metric: its own panel
        rows.append({"step": p.step, "value": p.value, "family": family, "metric": name})
    df = pd.DataFrame(rows, columns=["step", "value", "family", "metric"])
    if df.empty:
        return df
    counts = df.groupby("metric")["step"].transform("nunique")
    return df[counts >= 2].reset_index(drop=True)


def metrics_figure(points, kind: str):
    """One panel per family, stacked, each on its own axis; None when there is no line to draw."""
    import plotly.express as px

    df = metric_frame(points)
    if df.empty:
        return None
    families = list(dict.fromkeys(df["family"]))
    fig = px.line(
        df,
        x="step",
        y="value",
        color="metric",
        facet_row="family",
        category_orders={"family": families},
        markers=len(df) < 40,
        height=150 + 150 * len(families),
        labels={"step": X_LABELS.get(kind, "step"), "value": "", "metric": ""},
    )
    fig.update_yaxes(matches=None, title_text="")
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=", 1)[-1]))
    fig.update_layout(margin={"l": 10, "r": 10, "t": 20, "b": 10}, legend_title_text="")
    return fig
