"""The Evaluate page's results: the headline in the seed's terms, the recommendation with a Deploy link, the
dashboards, the table, the answers side by side, the report and the hand-over bundle."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from slmops_engine.evaluate import charts
from slmops_engine.evaluate.export import export_bundle
from slmops_engine.evaluate.labels import TABLE_ORDER, fmt, label, short_name
from slmops_engine.evaluate.report import REFERENCE_CASE, lineage_of, render_report
from slmops_engine.evaluate.result import EvaluationResult
from slmops_engine.evaluate.runner import load_evaluation
from slmops_engine.evaluate.views import best_and_worst, filter_samples
from slmops_engine.jobs import run_dir
from slmops_engine.models import Job, Project

from .deploy_settings import deploy_choice_key
from .format import ago
from .nav import link_to, page_for

FILTERS = {"all": "All rows", "disagree": "Where the variants disagree", "wrong": "Where a label is wrong"}


@st.cache_data(show_spinner=False, max_entries=8)
def _evaluation(job_id: int) -> EvaluationResult:
    return load_evaluation(job_id)


def _headline(ev: EvaluationResult) -> None:
    head, rec = ev.headline, ev.recommendation
    if head:
        st.success(f"**{head.sentence}**", icon=":material/trophy:")
        c1, c2, c3 = st.columns(3)
        kept, speed, mem = head.quality_kept, head.speedup, head.memory_ratio
        c1.metric("Quality kept vs the teacher", f"{kept:.0%}" if kept is not None else "—", "reference: 92%", "off")
        c2.metric("Answers faster", f"{speed:.1f}×" if speed else "—", "reference: 6.7× (−85% time)", "off")
        c3.metric("Memory of the teacher's", f"{mem:.0%}" if mem else "—", "reference: 5% (−95%)", "off")
        st.caption(f"Reference case study: {REFERENCE_CASE}.")
    elif not any(v.kind == "teacher" for v in ev.variants):
        st.caption("Add the teacher to the comparison to see how much of its quality the students keep.")
    if rec:
        st.info(rec.sentence, icon=":material/recommend:")
        if rec.deployable:
            if st.button(f"Deploy this: {rec.name}", icon=":material/rocket_launch:", key="eval_deploy_pick"):
                st.session_state[deploy_choice_key(ev.project_id)] = rec.variant_id  # preselected there
                st.switch_page(page_for("deploy").path)
        else:
            link_to("optimize", "Convert it on the Optimize page")


def _table(ev: EvaluationResult) -> None:
    metrics = [m for m in TABLE_ORDER if any(v.metric(m) is not None for v in ev.variants)]
    rows = []
    for v in ev.variants:
        row = {"variant": short_name(v) + (" ★" if v.id in ev.pareto else ""), "name": v.name}
        if not v.ok:
            row |= {label(metrics[0]) if metrics else "status": f"failed: {v.error}"}
        else:
            row |= {label(m): fmt(m, v.metric(m)) for m in metrics}
        rows.append(row)
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    st.caption("★ on the quality-vs-size Pareto front: no other variant is both better and smaller.")


def _samples(ev: EvaluationResult) -> None:
    mode = st.radio("Show", list(FILTERS), format_func=FILTERS.get, horizontal=True, key=f"eval_filter_{ev.job_id}")
    rows = filter_samples(ev, mode)
    st.caption(f"{len(rows)} of {ev.rows} rows.")
    table = []
    for r in rows:
        line = {"prompt": r.prompt, "reference": r.reference}
        for name, s in r.answers.items():
            mark = "" if s.correct is None else (" ✓" if s.correct else " ✗")
            line[name] = (s.answer if s.answer is not None else f"(failed: {s.error})") + mark
        table.append(line)
    st.dataframe(pd.DataFrame(table), hide_index=True, width="stretch", height=360)
    rec = ev.recommendation
    chosen = next((v for v in ev.variants if rec and v.id == rec.id), None)
    if chosen:
        best, worst = best_and_worst(chosen.samples)
        b, w = st.columns(2)
        b.markdown(f"**Best answers of {chosen.name}**")
        w.markdown(f"**Worst answers of {chosen.name}**")
        for col, items in ((b, best), (w, worst)):
            for s in items:
                col.caption(f"{s.prompt[:160]}  \n→ {s.answer!s:.160} · reference: {s.reference[:80]}")


def _downloads(project: Project, ev: EvaluationResult) -> None:
    job_id = ev.job_id

    def report() -> str:
        return render_report(ev, project=project, lineage=lineage_of(ev))

    c1, c2 = st.columns(2)
    c1.download_button(
        "Download the report (HTML, opens offline)",
        report,
        file_name=f"{project.name}-evaluation-{job_id}.html",
        mime="text/html",
        icon=":material/description:",
        key=f"eval_report_{job_id}",
        on_click="ignore",
    )
    onnx = [v for v in ev.variants if v.ok and v.kind == "onnx"]
    if not onnx:
        c2.caption("Convert a model to ONNX to export a hand-over bundle.")
        return
    rec_id = ev.recommendation.id if ev.recommendation else None
    pick = c2.selectbox(
        "Model to hand over",
        onnx,
        index=next((i for i, v in enumerate(onnx) if v.id == rec_id), 0),
        format_func=lambda v: v.name,
        key=f"eval_export_pick_{job_id}",
    )
    out = run_dir(job_id) / f"bundle-{pick.variant_id}.zip"

    def bundle() -> bytes:
        return Path(export_bundle(pick.variant_id, out, evaluation=ev)).read_bytes()

    c2.download_button(
        "Download the bundle (ONNX, model card, report)",
        bundle,
        file_name=f"{project.name}-{pick.variant_id}.zip",
        mime="application/zip",
        icon=":material/package_2:",
        key=f"eval_export_{job_id}",
        on_click="ignore",
    )


def results_panel(project: Project, finished: list[Job]) -> None:
    job = st.selectbox(
        "Evaluation",
        finished,
        format_func=lambda j: (
            f"#{j.id} · {len(j.config.get('variants', []))} variants · {ago(j.finished_at or j.created_at)}"
        ),
        key=f"eval_pick_{project.id}",
    )
    ev = _evaluation(job.id)
    st.caption(
        f"{ev.rows} held-out rows ({ev.split} part of dataset #{ev.dataset_id}); main measure: "
        f"{label(ev.primary_metric)}."
    )
    _headline(ev)
    tabs = st.tabs(["Quality", "Trade-offs", "Latency", "Cost", "Table", "Answers side by side"])
    with tabs[0]:
        st.plotly_chart(charts.metric_bars(ev), key=f"eval_bars_{job.id}")
    with tabs[1]:
        st.plotly_chart(charts.tradeoff(ev, "size_bytes"), key=f"eval_size_{job.id}")
        st.plotly_chart(charts.tradeoff(ev, "latency_p50_ms"), key=f"eval_latency_{job.id}")
        st.caption("Stars joined by a line: the Pareto front, where no other variant is both better and cheaper.")
    with tabs[2]:
        st.plotly_chart(charts.latency_box(ev), key=f"eval_box_{job.id}")
        st.caption("Latency of the rows answered one at a time, as a user meets it.")
    with tabs[3]:
        st.plotly_chart(charts.cost_bars(ev), key=f"eval_cost_{job.id}")
    with tabs[4]:
        _table(ev)
    with tabs[5]:
        _samples(ev)
    _downloads(project, ev)
