"""The Evaluate page through AppTest: guidance with nothing to compare, default choices, a real evaluation of the
teacher (a server on 127.0.0.1) and the tiny models started from the page, then the headline, recommendation,
dashboards, table, side-by-side answers and downloads; a failed evaluation explained with Retry."""

from __future__ import annotations

import pytest
from sqlmodel import select

from slmops_engine import projects
from slmops_engine.db import session_scope
from slmops_engine.jobs import get_job
from slmops_engine.jobs.rows import finish_job
from slmops_engine.jobs.worker import run_job
from slmops_engine.models import Job, JobStatus
from tests.support.evaluation import TEST_ROWS, route_or_judge, tiny_project
from tests.support.openai_server import OpenAIServer
from tests.test_pages import _live_navigation, _no_supervisor, no_exception, open_app, texts  # noqa: F401

PAGE = "pages/evaluate.py"


@pytest.fixture
def ready(tiny_model_dir, tiny_onnx, tmp_path):
    with OpenAIServer(answer=route_or_judge) as srv:
        p, ds, base, onnx = tiny_project(srv.url, tmp_path, tiny_model_dir, tiny_onnx["llama"])
        yield p, ds, base, onnx


def _eval_jobs() -> list[Job]:
    with session_scope() as s:
        return list(s.exec(select(Job).where(Job.kind == "evaluate").order_by(Job.id)).all())


def test_nothing_to_compare_points_to_models() -> None:
    p = projects.create_project("empty")
    at = open_app(PAGE, p.id)
    no_exception(at)
    assert "Nothing to evaluate yet" in texts(at)
    assert "Go to Models" in [link.proto.label for link in at.get("page_link")]


def test_an_evaluation_started_on_the_page_shows_its_results(ready) -> None:
    p, ds, base, onnx = ready
    at = open_app(PAGE, p.id)
    no_exception(at)
    # by default: the teacher, the base student and its newest conversion of each precision
    assert at.multiselect(key=f"eval_refs_{p.id}").value == ["teacher", str(base.id), str(onnx.id)]
    assert at.selectbox(key=f"eval_dataset_{p.id}").value.id == ds.id
    assert "No evaluation yet" in texts(at)
    at.button(key=f"eval_start_{p.id}").click().run()
    no_exception(at)
    (job,) = _eval_jobs()
    assert job.config["variants"] == ["teacher", str(base.id), str(onnx.id)] and job.project_id == p.id
    assert at.button(key=f"eval_start_{p.id}").disabled  # one evaluation at a time
    assert run_job(job.id) == JobStatus.succeeded, get_job(job.id).error_detail

    at.run()
    no_exception(at)
    shown = texts(at)
    assert "keeps 0% of the teacher's accuracy" in shown  # random tiny models never route right
    assert "Reference case study" in shown and "Ship tiny convert int4" in shown
    deploy = at.button(key="eval_deploy_pick")
    assert deploy.label == "Deploy this: tiny convert int4"
    assert len(at.get("plotly_chart")) == 5
    table = at.dataframe[0].value
    assert list(table["variant"].str.rstrip(" ★")) == ["Teacher", f"Base student #{base.id}", f"ONNX int4 #{onnx.id}"]
    assert list(table["name"]) == ["Teacher (teacher-model)", "tiny import float32", "tiny convert int4"]
    assert table["Label accuracy"].tolist()[0] == "100.0%"
    sides = at.dataframe[1].value
    assert len(sides) == TEST_ROWS and {"prompt", "reference", "Teacher", f"ONNX int4 #{onnx.id}"} <= set(sides.columns)
    at.radio(key=f"eval_filter_{job.id}").set_value("wrong").run()
    no_exception(at)
    assert len(at.dataframe[1].value) == TEST_ROWS  # every row has a student with the wrong label
    labels = [b.proto.label for b in at.get("download_button")]
    assert any("report" in x for x in labels) and any("bundle" in x for x in labels)
    deploy.click().run()  # the Deploy page opens with the recommended model picked
    no_exception(at)
    assert at.title[0].value == "Deploy" and at.selectbox(key=f"dep_{p.id}_model").value == onnx.id


def test_a_failed_evaluation_is_explained_with_retry(ready) -> None:
    p, ds, base, _ = ready
    at = open_app(PAGE, p.id)
    at.button(key=f"eval_start_{p.id}").click().run()
    (job,) = _eval_jobs()
    finish_job(job.id, JobStatus.failed, error_label="No variant could be evaluated", error_hint="Fix it.")
    at.run()
    no_exception(at)
    assert "No variant could be evaluated" in texts(at)
    assert at.button(key=f"eval_retry_{job.id}")
