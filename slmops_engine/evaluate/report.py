"""One self-contained HTML report of an evaluation, for a manager: the headline against the reference case study,
the recommendation, how the model was made, the numbers, the charts (plotly.js inlined once, nothing loaded from
the network) and the best and worst answers.

The page is resources/report.html.j2, rendered by Jinja2 with autoescape on: names, goals, answers and labels are
the operator's (or a model's) text, so none of it may become markup. This module only chooses and formats values;
the charts are the one piece passed through as HTML (plotly's own, which escapes the text it embeds)."""

from __future__ import annotations

import importlib.resources
from datetime import datetime, timezone
from functools import cache
from typing import Any

from jinja2 import Environment, StrictUndefined, Template

from .charts import all_charts
from .labels import TABLE_ORDER, fmt, label
from .lineage import MODEL_STEPS, lineage_of
from .result import EvaluationResult, Headline, SampleResult, VariantResult
from .views import best_and_worst

__all__ = ["REFERENCE_CASE", "lineage_of", "render_report"]

REFERENCE_CASE = "the distilled student keeps 92% of the teacher's accuracy at −85% inference time and −95% memory"
SAMPLES_SHOWN = 3
TEXT_LIMIT = 600
TEMPLATE = "report.html.j2"


@cache
def _template() -> Template:
    # StrictUndefined: a misspelt name in the template fails the tests instead of leaving a silent gap in a report.
    env = Environment(autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    source = importlib.resources.files("slmops_engine.resources").joinpath(TEMPLATE).read_text(encoding="utf-8")
    return env.from_string(source)


def _cut(text: Any) -> str:
    s = "" if text is None else str(text)
    return s if len(s) <= TEXT_LIMIT else s[:TEXT_LIMIT] + " …"


def _project(project: Any) -> tuple[str, str]:
    """(name, goal) of a Project row, a dict, a plain name or nothing."""
    if project is None:
        return "", ""
    if isinstance(project, str):
        return project, ""
    if isinstance(project, dict):
        return str(project.get("name") or ""), str(project.get("goal") or "")
    return str(getattr(project, "name", "") or ""), str(getattr(project, "goal", "") or "")


def _facts(ev: EvaluationResult) -> list[str]:
    facts = [
        f"{ev.rows} held-out rows ({ev.split} part of dataset {ev.dataset_id})",
        f"main measure: {label(ev.primary_metric)}",
        f"generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
    ]
    if ev.job_id is not None:
        facts.append(f"evaluation job {ev.job_id}")
    return facts


def _cards(head: Headline | None) -> list[dict[str, str]]:
    """The headline's numbers next to the reference case study's (92% kept, −85% time, −95% memory)."""
    if head is None:
        return []
    cards = []
    if head.quality_kept is not None:
        cards.append(("Quality kept", f"{head.quality_kept:.0%}", "reference 92%"))
    if head.speedup:
        cards.append(("Inference time", f"{1 / head.speedup - 1:+.0%}", "reference −85%"))
    if head.memory_ratio is not None:
        cards.append(("Memory", f"{head.memory_ratio - 1:+.0%}", "reference −95%"))
    if head.size_ratio is not None:
        cards.append(("Model size", f"{head.size_ratio - 1:+.0%}", ""))
    return [{"title": t, "value": v.replace("-", "−"), "reference": r} for t, v, r in cards]


def _lineage(lineage: list[dict]) -> tuple[str, list[dict]]:
    """The section's title and its steps, every part present (a step may come from a caller's own dict)."""
    steps = [
        {
            "step": s.get("step", ""),
            "name": s.get("name", ""),
            "detail": s.get("detail", ""),
            "settings": s.get("settings") or {},
        }
        for s in lineage
    ]
    made = [s["name"] for s in steps if s["step"] in MODEL_STEPS.values()]
    return (f"How {made[-1]} was made" if made else "How the model was made"), steps


def _columns(ev: EvaluationResult) -> list[str]:
    primary = ev.primary_metric
    present = [m for m in TABLE_ORDER if any(v.metric(m) is not None for v in ev.ok_variants)]
    return [primary, *[m for m in present if m != primary]] if primary in present else present


def _table(ev: EvaluationResult, cols: list[str]) -> list[dict]:
    rec_id = ev.recommendation.id if ev.recommendation else None
    fronts = {str(i) for i in ev.pareto}
    rows = []
    for v in ev.variants:
        marks = (["★ recommended"] if v.is_ref(rec_id) else []) + (["on the size front"] if str(v.id) in fronts else [])
        rows.append(
            {
                "name": v.display_name,
                "what": " · ".join(filter(None, [v.kind, v.precision])),
                "marks": ", ".join(marks),
                "failed": not v.ok,
                "error": v.error or "no reason recorded",
                "cells": [fmt(m, v.metric(m)) for m in cols],
            }
        )
    return rows


def _charts(ev: EvaluationResult) -> list[str]:
    """Each chart's HTML, which the template passes through as it is (`| safe`): plotly writes the figure's text as
    JSON with '<' escaped (\\u003c), so a variant's name cannot close its <script>."""
    config = {"displaylogo": False, "responsive": True}
    return [
        fig.to_html(full_html=False, include_plotlyjs=i == 0, config=config, default_width="100%")
        for i, (_, fig) in enumerate(all_charts(ev))
    ]


def _focus(ev: EvaluationResult) -> VariantResult | None:
    """The variant whose answers are shown: the recommended one, the headline's student, else the best student."""
    ok = ev.ok_variants
    refs = (ev.recommendation.id if ev.recommendation else None, ev.headline.student_id if ev.headline else None)
    for ref in refs:
        found = next((v for v in ok if v.is_ref(ref)), None)
        if found:
            return found
    students = [v for v in ok if not v.is_teacher]
    return max(students, key=lambda v: v.metric(ev.primary_metric) or 0, default=None)


def _sample(s: SampleResult, teacher: SampleResult | None = None) -> dict:
    """What the template shows of one answer; ``teacher``: the teacher's answer to the same row, shown beside it."""
    facts = [f"row {s.row}"]
    if s.label is not None:
        facts.append(f"expected label {s.label}, answered {s.predicted_label or 'none'}")
    if s.rouge_l is not None:
        facts.append(f"ROUGE-L {fmt('rouge_l', s.rouge_l)}")
    if s.judge_score is not None:
        facts.append(f"judge {s.judge_score}/10: {s.judge_reason or ''}")
    answer = s.answer if s.answer is not None else f"(no answer: {s.error or 'failed'})"
    return {
        "facts": " · ".join(facts),
        "prompt": _cut(s.prompt),
        "reference": _cut(s.reference),
        "answer": _cut(answer),
        "teacher": _cut(teacher.answer or teacher.error or "") if teacher is not None else None,
    }


def _answers(ev: EvaluationResult) -> dict | None:
    """The shown variant's best answers, and its worst beside the teacher's answers to the same rows."""
    v = _focus(ev)
    if v is None or not v.samples:
        return None
    teacher = next((t for t in ev.ok_variants if t.is_teacher and t is not v), None)
    by_row = {s.row: s for s in teacher.samples} if teacher is not None else {}
    best, worst = best_and_worst(v.samples, SAMPLES_SHOWN)
    return {
        "name": v.display_name,
        "best": [_sample(s) for s in best],
        "worst": [_sample(s, by_row.get(s.row)) for s in worst],
    }


def render_report(ev: EvaluationResult, *, project: Any = None, lineage: list[dict] | None = None) -> str:
    """The whole report as one HTML string (open it in any browser, offline). ``project`` is a Project row, a dict
    with name/goal, or a name; ``lineage`` the steps of lineage_of(ev)."""
    name, goal = _project(project)
    head = ev.headline
    columns = _columns(ev)
    lineage_title, steps = _lineage(lineage or [])
    no_headline = "No headline: the evaluation needs the teacher and a student that both answered."
    return _template().render(
        title=f"Evaluation report: {name}" if name else "Evaluation report",
        goal=goal,
        facts=_facts(ev),
        headline=head.sentence if head and head.sentence else no_headline,
        cards=_cards(head),
        reference_case=REFERENCE_CASE,
        recommendation=ev.recommendation.sentence if ev.recommendation else None,
        lineage_title=lineage_title,
        lineage=steps,
        columns=[label(m) for m in columns],
        table=_table(ev, columns),
        charts=_charts(ev),
        answers=_answers(ev),
    )
