"""The Distill page through AppTest: guidance, settings and preflight, a real teacher run against a local
OpenAI-compatible server, the live view, failure and retry, and the review that saves a new dataset."""

from __future__ import annotations

import json

import pytest

from slmops_engine import projects
from slmops_engine.data import import_sample, list_datasets, load_dataset_dict
from slmops_engine.db import session_scope
from slmops_engine.jobs import get_job, run_dir, submit_job
from slmops_engine.jobs.rows import set_job_fields
from slmops_engine.jobs.worker import run_job
from slmops_engine.models import Job, JobStatus, utcnow
from slmops_engine.synth.config import SynthConfig
from slmops_engine.synth.views import decisions, filter_rows, is_kept
from slmops_engine.teachers import Provider, TeacherConfig
from tests.support.openai_server import Behaviour
from tests.test_pages import _live_navigation, _no_supervisor, no_exception, open_app, texts  # noqa: F401

PAGE = "pages/distill.py"


def _teacher(url: str, **kw) -> TeacherConfig:
    return TeacherConfig.from_preset(
        Provider.openai_compatible, base_url=url, model="teacher-model", system_prompt="Route the message.", **kw
    )


@pytest.fixture
def project_with_data(teacher_server):
    p = projects.create_project("router", "Route support messages.")
    p = projects.set_teacher(p.id, _teacher(teacher_server.url))
    ds = import_sample(p.id)
    return p, ds


def _synth_jobs() -> list[Job]:
    with session_scope() as s:
        return list(s.query(Job).filter(Job.kind == "synth").order_by(Job.id).all())


def _start_quick_trial(at, project_id: int, dataset_id: int, n: int, prices: tuple[float, float] = (0.0, 0.0)):
    at.toggle(key=f"distill_{project_id}_{dataset_id}_trial").set_value(True).run()
    at.number_input(key=f"distill_{project_id}_{dataset_id}_max_prompts").set_value(n)
    at.number_input(key=f"distill_{project_id}_price_in").set_value(prices[0])
    at.number_input(key=f"distill_{project_id}_price_out").set_value(prices[1]).run()
    at.button(key="distill_start").click().run()
    no_exception(at)
    return at


# -- guidance ------------------------------------------------------------------------------------------------------


def test_empty_project_points_to_models_and_data() -> None:
    p = projects.create_project("empty")
    at = open_app(PAGE, p.id)
    no_exception(at)
    shown = texts(at)
    assert at.title[0].value == "Distill"
    assert "No teacher chosen yet" in shown
    assert "No prompts yet" in shown
    assert "No answers to review yet" in shown
    links = {link.proto.label for link in at.get("page_link")}
    assert {"Choose the teacher on Models", "Go to Data"} <= links
    assert "distill_start" not in {b.key for b in at.button}


def test_data_without_teacher_shows_no_settings() -> None:
    p = projects.create_project("no-teacher")
    import_sample(p.id)
    at = open_app(PAGE, p.id)
    no_exception(at)
    assert "No teacher chosen yet" in texts(at)
    assert "distill_start" not in {b.key for b in at.button}


def test_settings_default_to_the_newest_prompts_and_the_teacher_prompt(project_with_data) -> None:
    p, sample = project_with_data
    at = open_app(PAGE, p.id)
    no_exception(at)
    assert at.selectbox(key=f"distill_{p.id}_dataset").value == sample.id
    assert at.multiselect(key=f"distill_{p.id}_{sample.id}_splits").value == ["train"]  # the sample has no validation
    assert [t.value for t in at.text_area if t.label.startswith("Instructions")] == ["Route the message."]
    assert "**240** answers needed (240 prompts × 1). The teacher will be asked **240** times." in texts(at)
    assert not at.button(key="distill_start").disabled
    # learn_reasoning is only offered with reasoning
    assert at.toggle(key=f"distill_{p.id}_learn_reasoning").disabled
    at.toggle(key=f"distill_{p.id}_reasoning").set_value(True).run()
    assert not at.toggle(key=f"distill_{p.id}_learn_reasoning").disabled


def test_preflight_error_disables_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLMOPS_TEST_TEACHER_KEY", raising=False)
    p = projects.create_project("keyless")
    projects.set_teacher(
        p.id, TeacherConfig.from_preset(Provider.openai, model="gpt-4o-mini", api_key_env="SLMOPS_TEST_TEACHER_KEY")
    )
    import_sample(p.id)
    at = open_app(PAGE, p.id)
    no_exception(at)
    assert "The environment variable SLMOPS_TEST_TEACHER_KEY is not set" in texts(at)
    assert at.button(key="distill_start").disabled


def test_changed_system_prompt_goes_into_the_run_only(project_with_data) -> None:
    p, sample = project_with_data
    at = open_app(PAGE, p.id)
    [box] = [t for t in at.text_area if t.label.startswith("Instructions")]
    box.input("Answer with one word.").run()
    assert "Changed for this run only" in texts(at)
    at.button(key="distill_start").click().run()
    no_exception(at)
    [job] = _synth_jobs()
    assert job.config["teacher"]["system_prompt"] == "Answer with one word."
    assert projects.project_teacher(projects.get_project(p.id)).system_prompt == "Route the message."


# -- a real run, then review ---------------------------------------------------------------------------------------


def test_run_end_to_end_then_review_and_save(project_with_data, teacher_server) -> None:
    p, sample = project_with_data
    teacher_server.answer = lambda msgs: "technical"  # the sample is labelled: the teacher answers with a route
    at = open_app(PAGE, p.id)
    at = _start_quick_trial(at, p.id, sample.id, 4, prices=(0.5, 1.5))
    [job] = _synth_jobs()
    cfg = SynthConfig.model_validate(job.config)
    assert (job.status, job.project_id, job.title) == (JobStatus.queued, p.id, f"Teacher answers {sample.name}")
    assert (cfg.dataset_id, cfg.splits, cfg.max_prompts) == (sample.id, ["train"], 4)
    assert (cfg.teacher.base_url, cfg.teacher.model) == (teacher_server.url, "teacher-model")
    assert (cfg.price_input_per_1k, cfg.price_output_per_1k) == (0.5, 1.5)
    assert f"Run #{job.id} started" in texts(at)
    assert (
        "A labelled task: the teacher answers with one of 4 labels (account, billing, shipping, technical)."
        in texts(at)
    )
    assert "Queued — waiting for the job runner" in texts(at)
    assert at.button(key="distill_start").disabled  # one run at a time

    assert run_job(job.id) == JobStatus.succeeded
    at.run()
    no_exception(at)
    job = get_job(job.id)
    answered_id = job.result["dataset_id"]
    shown = texts(at)
    assert "Done: 4 answers in the new dataset" in shown
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Answered"] == "4 / 4"
    assert metrics["Estimated cost"] == f"${job.result['cost']:,.4f}" and job.result["cost"] > 0
    assert len([r for r in teacher_server.requests if r.path.endswith("/chat/completions")]) == 4
    assert "**4** are already saved from earlier runs" in shown  # the same run again would cost nothing
    assert "The teacher will be asked **0** times." in shown

    # The review tab selected the new dataset and shows its four answers; the button opens that tab.
    at.button(key=f"distill_open_review_{job.id}").click().run()
    assert at.session_state["distill_tab"] == "2 · Review the answers"
    assert at.selectbox(key=f"distill_{p.id}_review_dataset").value == answered_id
    [table] = at.data_editor
    assert len(table.value) == 4 and (table.value["answer"] == "technical").all()
    assert metrics["Answers"] == "4" and metrics["Kept"] == "4"

    # Reject the first row, edit the second (what the browser sends for those two cells).
    editor_key = f"distill_editor_{answered_id}_all_1"
    at.session_state[editor_key] = {
        "edited_rows": {0: {"keep": False}, 1: {"answer": "billing"}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.run()
    no_exception(at)
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Kept"], metrics["Edited"]) == ("3", "1")
    at.button(key=f"distill_save_{answered_id}").click().run()
    no_exception(at)

    reviewed = max(list_datasets(p.id), key=lambda d: d.id)
    assert (reviewed.stage, reviewed.parent_id) == ("review", answered_id)
    train = load_dataset_dict(reviewed.id)["train"]
    assert len(train) == 3
    assert train[0]["response"] == "billing"  # the old second row, now first
    assert len(load_dataset_dict(reviewed.id)["test"]) == 80  # the held-out part is untouched
    assert f"Saved “{reviewed.name}”: {reviewed.n_rows} rows" in texts(at)
    assert at.selectbox(key=f"distill_{p.id}_review_dataset").value == reviewed.id


def test_reject_all_flagged_drops_refusals(project_with_data, teacher_server) -> None:
    p, sample = project_with_data

    def answer(messages):  # the teacher routes everything to billing, but refuses anything about passwords
        last = messages[-1]["content"]
        return "I'm sorry, but I can't help with that." if "password" in last.lower() else "billing"

    teacher_server.answer = answer
    prompts = load_dataset_dict(sample.id)["train"]["prompt"][:30]
    n_refused = sum("password" in q.lower() for q in prompts)
    assert 0 < n_refused < 30
    at = _start_quick_trial(open_app(PAGE, p.id), p.id, sample.id, 30)
    [job] = _synth_jobs()
    assert run_job(job.id) == JobStatus.succeeded
    at.run()
    answered_id = get_job(job.id).result["dataset_id"]
    at.selectbox(key=f"distill_show_{answered_id}").select("refusal").run()
    no_exception(at)
    assert len(at.data_editor[0].value) == n_refused
    assert at.data_editor[0].value["flags"].str.contains("refused").all()
    at.toggle(key=f"distill_reject_flagged_{answered_id}").set_value(True).run()
    assert not at.data_editor[0].value["keep"].any()
    at.button(key=f"distill_save_{answered_id}").click().run()
    no_exception(at)
    reviewed = max(list_datasets(p.id), key=lambda d: d.id)
    train = load_dataset_dict(reviewed.id)["train"]
    assert len(train) == 30 - n_refused
    assert reviewed.info["review"]["reject_flagged"] is True


def test_failed_run_explains_and_retries(project_with_data, teacher_server) -> None:
    p, sample = project_with_data
    teacher_server.behaviour = Behaviour(api_key="x")  # our key is wrong: 401
    at = _start_quick_trial(open_app(PAGE, p.id), p.id, sample.id, 3)
    [job] = _synth_jobs()
    assert run_job(job.id) == JobStatus.failed
    at.run()
    no_exception(at)
    shown = texts(at)
    assert "The endpoint refused the API key (401)" in shown
    assert "Retry asks again with the same settings" in shown
    assert "No failed or retried requests" not in shown
    assert "Traceback" in shown  # in the expander
    at.button(key=f"distill_retry_{job.id}").click().run()
    no_exception(at)
    job = get_job(job.id)
    assert (job.status, job.attempt) == (JobStatus.queued, 2)
    assert "Queued — waiting for the job runner" in texts(at)


def test_retry_after_a_partial_run_asks_only_the_rest(project_with_data, teacher_server) -> None:
    p, sample = project_with_data
    teacher_server.script.extend([Behaviour(), Behaviour(), Behaviour(api_key="x")])  # two answers, then a 401
    at = open_app(PAGE, p.id)
    at.number_input(key=f"distill_{p.id}_concurrency").set_value(1)
    at = _start_quick_trial(at, p.id, sample.id, 4)
    [job] = _synth_jobs()
    assert run_job(job.id) == JobStatus.failed
    at.run()
    assert "the 2 answers already received are saved" in texts(at)
    assert {m.label: m.value for m in at.metric}["Answered"] == "2 / 4"
    at.button(key=f"distill_retry_{job.id}").click().run()
    assert run_job(job.id) == JobStatus.succeeded
    at.run()
    no_exception(at)
    assert "2 answers reused from earlier runs" in texts(at)
    assert {m.label: m.value for m in at.metric}["Answered"] == "4 / 4"
    assert len([r for r in teacher_server.requests if r.path.endswith("/chat/completions")]) == 5  # 2 + 401 + 2


def test_running_run_shows_live_numbers_and_cancels(project_with_data) -> None:
    p, sample = project_with_data
    cfg = SynthConfig(
        dataset_id=sample.id, teacher=projects.project_teacher(p), project_id=p.id, price_output_per_1k=0.01
    )
    job = submit_job("synth", cfg, project_id=p.id, title="Teacher answers the sample")
    set_job_fields(
        job.id, status=JobStatus.running, progress=0.25, message="60/240 answered · 30.0/min", eta_seconds=360,
        started_at=utcnow(), heartbeat_at=utcnow(),
    )  # fmt: skip
    state = {
        "total": 240, "done": 60, "cached": 10, "answered": 48, "failed": {"timeout": 2}, "retries": {"429": 7},
        "prompt_tokens": 1200, "completion_tokens": 800, "cost": 0.0123, "answers_per_min": 30.0,
        "recent": [{"prompt": "Where is my parcel?", "answer": "shipping"}],
    }  # fmt: skip
    (run_dir(job.id) / "state.json").write_text(json.dumps(state))
    at = open_app(PAGE, p.id)
    no_exception(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Answered"] == "58 / 240"
    assert metrics["Time left"] == "6 min 00 s"
    assert metrics["Tokens used"] == "2,000" and metrics["Estimated cost"] == "$0.0123"
    assert "24% · 58 of 240 answers" in texts(at)  # the bar counts what the counters count, from one snapshot
    assert "10 answers reused from earlier runs" in texts(at)
    spec = at.get("plotly_chart")[0].proto.spec
    assert "rate limited (429)" in spec and "timed out" in spec
    assert at.dataframe[0].value.to_dict("records") == [{"prompt": "Where is my parcel?", "answer": "shipping"}]
    assert at.button(key="distill_start").disabled
    at.button(key=f"distill_cancel_{job.id}").click().run()
    no_exception(at)
    assert get_job(job.id).cancel_requested_at is not None
    assert at.button(key=f"distill_cancel_{job.id}").disabled


def test_a_local_teacher_loading_says_so(project_with_data) -> None:
    p, sample = project_with_data
    job = submit_job("synth", SynthConfig(dataset_id=sample.id, teacher=projects.project_teacher(p)), project_id=p.id)
    set_job_fields(job.id, status=JobStatus.running, message="Loading the teacher model on this machine")
    state = {"total": 240, "done": 0, "cached": 0, "answered": 0, "loading": True}
    (run_dir(job.id) / "state.json").write_text(json.dumps(state))
    at = open_app(PAGE, p.id)
    no_exception(at)
    assert "Loading the teacher model on this machine; answers start once it is loaded" in texts(at)


# -- review decisions ----------------------------------------------------------------------------------------------


def test_review_decisions_follow_the_table() -> None:
    rows = [
        {"id": "train:0", "answer": "a", "flags": ""},
        {"id": "train:1", "answer": "b", "flags": "refusal"},
        {"id": "train:2", "answer": "c", "flags": "empty,cut_off"},
        {"id": "train:3", "answer": "d", "flags": "refusal"},
    ]
    assert [r["id"] for r in filter_rows(rows, "flagged")] == ["train:1", "train:2", "train:3"]
    assert [r["id"] for r in filter_rows(rows, "cut_off")] == ["train:2"]
    kept, edits = {"train:1"}, {"train:2": "fixed", "train:0": "a"}
    assert [is_kept(r, set(), kept, edits, True) for r in rows] == [True, True, True, False]
    dec = decisions(rows, {"train:0"}, kept, edits, True)
    assert dec.rejected == {"train:0", "train:3"}
    assert dec.edits == {"train:2": "fixed"}  # an "edit" that leaves the text alone is no edit
    assert dec.reject_flagged is False  # a flagged row was kept by hand: the drops are named one by one
    assert decisions(rows, set(), set(), {}, True).reject_flagged is True
