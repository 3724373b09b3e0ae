"""The Fine-tune page's search tab: start a search, watch its trials (table, objective by trial, the settings of
the finished ones), and train the best setting longer."""

from __future__ import annotations

from slmops_engine import projects
from slmops_engine.fields import field_spec
from slmops_engine.jobs import cancel_job, get_job, list_jobs, submit_job, wait_for_job
from slmops_engine.models import JobStatus
from slmops_engine.students import StudentChoice
from slmops_engine.sweep.config import SweepConfig
from tests.test_pages import no_exception, open_app, texts
from tests.test_sweep import BASE

# the autouse fixtures of the page tests (no supervisor from the app, live navigation)
from tests.test_pages import _live_navigation, _no_supervisor  # noqa: F401  isort: skip

PAGE = "pages/finetune.py"


def _project(tiny_model_dir, tmp_path):
    """A project with the tiny student and answered routing data of its own."""
    import json

    from slmops_engine.data import import_file

    p = projects.create_project("tuned")
    projects.set_student(p.id, StudentChoice(source="local", path=str(tiny_model_dir)))
    rows = [{"prompt": f"reset my password {i}", "response": "account", "label": "account"} for i in range(20)]
    rows += [{"prompt": f"refund the charge {i}", "response": "billing", "label": "billing"} for i in range(20)]
    for i, r in enumerate(rows):
        r["split"] = "validation" if i % 5 == 0 else "train"
    (tmp_path / "routes.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    return p, import_file(tmp_path / "routes.jsonl", project_id=p.id)[0]


def test_start_a_search_from_the_page(tiny_model_dir, tmp_path):
    p, routing = _project(tiny_model_dir, tmp_path)
    at = open_app(PAGE, p.id)
    no_exception(at)
    k = f"sweep_{p.id}"
    assert at.radio(key=f"{k}_space").value == "quick" and at.number_input(key=f"{k}_trials").value == 6
    for name, key in (("trials", "trials"), ("time_limit_minutes", "limit")):  # built from SweepConfig's fields
        spec, widget = field_spec(SweepConfig, name), at.number_input(key=f"{k}_{key}")
        assert (widget.label, widget.help, widget.min, widget.max) == (spec.title, spec.help, spec.low, spec.high)
    at.number_input(key=f"{k}_trials").set_value(3).run()
    at.radio(key=f"{k}_space").set_value("thorough").run()
    at.button(key="sweep_start").click().run()
    no_exception(at)
    [job] = [j for j in list_jobs() if j.kind == "sweep"]
    assert job.config["trials"] == 3 and job.config["space"] == "thorough" and job.config["dataset_id"] == routing.id
    assert "sweep_start" not in [b.key for b in at.button]  # one search at a time: its trials show instead
    assert f"Search #{job.id}" in texts(at) or "The first trial is starting." in texts(at)
    cancel_job(job.id)


def test_a_finished_search_shows_its_trials_and_trains_the_best_longer(tiny_model_dir, tmp_path, supervisor):
    p, routing = _project(tiny_model_dir, tmp_path)
    student = StudentChoice(source="local", path=str(tiny_model_dir))
    space = {"learning_rate": [1e-2, 1e-6]}
    cfg = {"dataset_id": routing.id, "student": student.model_dump(), "project_id": p.id, "space": space}
    job = submit_job("sweep", {**cfg, "trials": 2, "base": {**BASE, "max_steps": 8}, "seed": 3}, project_id=p.id)
    done = wait_for_job(job.id, timeout=600)
    assert done.status == JobStatus.succeeded, (done.error_label, done.error_hint)
    at = open_app(PAGE, p.id)
    no_exception(at)
    shown = texts(at)
    best = done.result["best_trial"]
    assert f"Best: trial {best}" in shown
    table = at.dataframe[-1].value
    assert list(table["Trial"]) == [1, 2] and set(table["Outcome"]) <= {"finished", "stopped early"}
    assert any("Validation loss" in c.proto.spec for c in at.get("plotly_chart"))
    at.button(key=f"sweep_longer_{job.id}").click().run()
    no_exception(at)
    [longer] = [j for j in list_jobs() if j.title == f"Best of search #{job.id}, longer"]
    assert longer.config["max_steps"] == 16  # twice the trial's
    assert longer.config["learning_rate"] == done.result["best_params"]["learning_rate"]
    cancel_job(longer.id)
    wait_for_job(longer.id, timeout=120)
    assert get_job(longer.id).status.finished
