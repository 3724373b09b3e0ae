"""One self-contained HTML report of an evaluation, for a manager: the headline against the reference case study,
the recommendation, how the model was made, the numbers, the charts (plotly.js inlined once, nothing loaded from
the network) and the best and worst answers."""

from __future__ import annotations

import html
from datetime import datetime, timezone
from string import Template
from typing import Any

from .charts import all_charts
from .labels import TABLE_ORDER, fmt, is_teacher, label, metric, name_of, ok_variants
from .lineage import MODEL_STEPS, lineage_of
from .views import best_and_worst

__all__ = ["REFERENCE_CASE", "lineage_of", "render_report"]

REFERENCE_CASE = "the distilled student keeps 92% of the teacher's accuracy at −85% inference time and −95% memory"
SAMPLES_SHOWN = 3
TEXT_LIMIT = 600

PAGE = Template("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #111827; margin: 0 auto;
       max-width: 1100px; padding: 24px; line-height: 1.45; }
h1 { margin-bottom: 4px; } h2 { margin-top: 36px; border-bottom: 1px solid #e5e7eb; padding-bottom: 4px; }
.muted { color: #6b7280; font-size: 0.9em; }
.headline { display: flex; gap: 16px; flex-wrap: wrap; }
.headline > div { flex: 1 1 320px; padding: 14px 18px; border-radius: 8px; }
.result { background: #eff6ff; border-left: 4px solid #2563eb; font-size: 1.15em; }
.reference { background: #f9fafb; border-left: 4px solid #9ca3af; }
.cards { display: flex; gap: 12px; flex-wrap: wrap; margin-top: 12px; }
.card { border: 1px solid #e5e7eb; border-radius: 8px; padding: 8px 14px; min-width: 150px; }
.card b { font-size: 1.4em; display: block; }
.recommendation { background: #f0fdf4; border-left: 4px solid #16a34a; padding: 12px 18px; border-radius: 8px; }
ol.lineage li { margin-bottom: 10px; }
table { border-collapse: collapse; width: 100%; font-size: 0.9em; }
th, td { border-bottom: 1px solid #e5e7eb; padding: 6px 8px; text-align: left; vertical-align: top; }
th { background: #f9fafb; } td.num { text-align: right; white-space: nowrap; }
tr.failed td { color: #991b1b; } .settings td { border: none; padding: 1px 8px 1px 0; }
.sample { border: 1px solid #e5e7eb; border-radius: 8px; padding: 10px 14px; margin-bottom: 10px; }
.sample pre { white-space: pre-wrap; margin: 2px 0 8px; font-family: inherit; background: #f9fafb; padding: 6px; }
.good { border-left: 4px solid #16a34a; } .bad { border-left: 4px solid #dc2626; }
</style>
</head>
<body>
$body
</body>
</html>
""")


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


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


def _header(ev: dict, name: str, goal: str) -> str:
    title = f"Evaluation report: {name}" if name else "Evaluation report"
    goal_html = f"<p><b>Goal:</b> {_e(goal)}</p>" if goal else ""
    facts = [
        f"{_e(ev.get('rows', '?'))} held-out rows ({_e(ev.get('split', 'test'))} part of dataset "
        f"{_e(ev.get('dataset_id'))})",
        f"main measure: {_e(label(ev.get('primary_metric') or 'rouge_l'))}",
        f"generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
    ]
    if ev.get("job_id") is not None:
        facts.append(f"evaluation job {_e(ev['job_id'])}")
    return f"<h1>{_e(title)}</h1>{goal_html}<p class='muted'>{' · '.join(facts)}</p>"


def _cards(head: dict) -> str:
    """The headline's numbers next to the reference case study's (92% kept, −85% time, −95% memory)."""
    cards = []
    if head.get("quality_kept") is not None:
        cards.append(("Quality kept", f"{head['quality_kept']:.0%}", "reference 92%"))
    if head.get("speedup"):
        cards.append(("Inference time", f"{1 / head['speedup'] - 1:+.0%}", "reference −85%"))
    if head.get("memory_ratio") is not None:
        cards.append(("Memory", f"{head['memory_ratio'] - 1:+.0%}", "reference −95%"))
    if head.get("size_ratio") is not None:
        cards.append(("Model size", f"{head['size_ratio'] - 1:+.0%}", ""))
    body = "".join(
        f"<div class='card'>{_e(t)}<b>{_e(v.replace('-', '−'))}</b><span class='muted'>{_e(r)}</span></div>"
        for t, v, r in cards
    )
    return f"<div class='cards'>{body}</div>" if body else ""


def _headline(ev: dict) -> str:
    head = ev.get("headline") or {}
    sentence = head.get("sentence") or "No headline: the evaluation needs the teacher and a student that both answered."
    rec = ev.get("recommendation") or {}
    rec_html = (
        f"<h2>Recommendation</h2><p class='recommendation'>{_e(rec['sentence'])}</p>" if rec.get("sentence") else ""
    )
    return (
        "<h2>Result</h2><div class='headline'>"
        f"<div class='result'>{_e(sentence)}{_cards(head)}</div>"
        f"<div class='reference'><b>Reference case study:</b> {_e(REFERENCE_CASE)}.</div>"
        f"</div>{rec_html}"
    )


def _settings(settings: dict) -> str:
    if not settings:
        return ""
    rows = "".join(f"<tr><td class='muted'>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in settings.items())
    return f"<table class='settings'>{rows}</table>"


def _lineage(lineage: list[dict]) -> str:
    made = [s.get("name") for s in lineage if s.get("step") in MODEL_STEPS.values()]
    title = f"How {made[-1]} was made" if made else "How the model was made"
    if not lineage:
        return f"<h2>{_e(title)}</h2><p class='muted'>No recorded lineage for the chosen model.</p>"
    items = "".join(
        f"<li><b>{_e(s.get('step', ''))}</b>: {_e(s.get('name', ''))}"
        f"<div class='muted'>{_e(s.get('detail', ''))}</div>{_settings(s.get('settings') or {})}</li>"
        for s in lineage
    )
    return f"<h2>{_e(title)}</h2><ol class='lineage'>{items}</ol>"


def _columns(ev: dict) -> list[str]:
    ok = ok_variants(ev)
    primary = ev.get("primary_metric") or "rouge_l"
    present = [m for m in TABLE_ORDER if any(metric(v, m) is not None for v in ok)]
    return [primary, *[m for m in present if m != primary]] if primary in present else present


def _metrics_table(ev: dict) -> str:
    cols = _columns(ev)
    rec_id = (ev.get("recommendation") or {}).get("id")
    fronts = {str(i) for i in ev.get("pareto") or []}
    head = "".join(f"<th>{_e(label(m))}</th>" for m in cols)
    rows = []
    for v in ev.get("variants") or []:
        marks = (["★ recommended"] if rec_id is not None and str(v.get("id")) == str(rec_id) else []) + (
            ["on the size front"] if str(v.get("id")) in fronts else []
        )
        who = f"{_e(name_of(v))}<div class='muted'>{_e(' · '.join(filter(None, [v.get('kind'), v.get('precision')])))}"
        who += f"{'<br>' + _e(', '.join(marks)) if marks else ''}</div>"
        if v.get("status") == "failed":
            rows.append(
                f"<tr class='failed'><td>{who}</td><td colspan='{max(len(cols), 1)}'>failed: "
                f"{_e(v.get('error') or 'no reason recorded')}</td></tr>"
            )
            continue
        cells = "".join(f"<td class='num'>{_e(fmt(m, metric(v, m)))}</td>" for m in cols)
        rows.append(f"<tr><td>{who}</td>{cells}</tr>")
    note = "<p class='muted'>— : does not apply or was not measured. Shares are of the held-out rows.</p>"
    return f"<h2>Numbers</h2><table><tr><th>Variant</th>{head}</tr>{''.join(rows)}</table>{note}"


def _charts(ev: dict) -> str:
    config = {"displaylogo": False, "responsive": True}
    parts = [
        fig.to_html(full_html=False, include_plotlyjs=i == 0, config=config, default_width="100%")
        for i, (_, fig) in enumerate(all_charts(ev))
    ]
    return "<h2>Charts</h2>" + "".join(f"<div class='chart'>{p}</div>" for p in parts)


def _focus(ev: dict) -> dict | None:
    """The variant whose answers are shown: the recommended one, the headline's student, else the best student."""
    ok = ok_variants(ev)
    for ref in ((ev.get("recommendation") or {}).get("id"), (ev.get("headline") or {}).get("student_id")):
        found = next((v for v in ok if ref is not None and str(v.get("id")) == str(ref)), None)
        if found:
            return found
    primary = ev.get("primary_metric") or "rouge_l"
    students = [v for v in ok if not is_teacher(v)]
    return max(students, key=lambda v: metric(v, primary) or 0, default=None)


def _sample(s: dict, css: str, teacher: dict | None) -> str:
    facts = [f"row {s.get('row')}"]
    if s.get("label") is not None:
        facts.append(f"expected label {s.get('label')}, answered {s.get('predicted_label') or 'none'}")
    if s.get("rouge_l") is not None:
        facts.append(f"ROUGE-L {fmt('rouge_l', s['rouge_l'])}")
    if s.get("judge_score") is not None:
        facts.append(f"judge {s['judge_score']}/10: {s.get('judge_reason') or ''}")
    answer = s.get("answer") if s.get("answer") is not None else f"(no answer: {s.get('error') or 'failed'})"
    extra = ""
    if teacher is not None:
        extra = f"<b>Teacher's answer</b><pre>{_e(_cut(teacher.get('answer') or teacher.get('error') or ''))}</pre>"
    return (
        f"<div class='sample {css}'><div class='muted'>{_e(' · '.join(facts))}</div>"
        f"<b>Prompt</b><pre>{_e(_cut(s.get('prompt')))}</pre><b>Reference</b><pre>{_e(_cut(s.get('reference')))}</pre>"
        f"<b>Answer</b><pre>{_e(_cut(answer))}</pre>{extra}</div>"
    )


def _samples(ev: dict) -> str:
    v = _focus(ev)
    samples = list((v or {}).get("samples") or [])
    if not samples:
        return ""
    teacher = next((t for t in ok_variants(ev) if is_teacher(t) and t is not v), None)
    by_row = {s.get("row"): s for s in (teacher or {}).get("samples") or []}
    best, worst = best_and_worst(samples, SAMPLES_SHOWN)
    return (
        f"<h2>Answers of {_e(name_of(v))}</h2><h3>Best</h3>"
        + "".join(_sample(s, "good", None) for s in best)
        + ("<h3>Worst</h3>" if worst else "")
        + "".join(_sample(s, "bad", by_row.get(s.get("row"))) for s in worst)
    )


def render_report(ev: dict, *, project: Any = None, lineage: list[dict] | None = None) -> str:
    """The whole report as one HTML string (open it in any browser, offline). ``project`` is a Project row, a dict
    with name/goal, or a name; ``lineage`` the steps of lineage_of(ev)."""
    name, goal = _project(project)
    body = "".join(
        [
            _header(ev, name, goal),
            _headline(ev),
            _lineage(lineage or []),
            _metrics_table(ev),
            _charts(ev),
            _samples(ev),
            "<p class='muted'>Made with SLMOps Studio.</p>",
        ]
    )
    title = f"Evaluation report: {name}" if name else "Evaluation report"
    return PAGE.substitute(title=_e(title), body=body)
