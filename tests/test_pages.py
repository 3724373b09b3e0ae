"""The dashboard pages, run headless through Streamlit's AppTest against a real (temporary) database."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest, app_test
from streamlit.testing.v1.element_tree import Block

from slmops_engine import projects
from slmops_engine.db import session_scope
from slmops_engine.jobs import get_job, run_dir, submit_job
from slmops_engine.jobs.rows import finish_job, set_job_fields, upsert_metrics
from slmops_engine.models import Job, JobStatus, ModelVariant, Project, utcnow
from slmops_engine.stages import prepare_model
from slmops_engine.students import StudentChoice
from slmops_engine.teachers import Provider, TeacherConfig

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app.py"
PAGES = [
    "pages/home.py",
    "pages/models.py",
    "pages/data.py",
    "pages/distill.py",
    "pages/finetune.py",
    "pages/optimize.py",
    "pages/evaluate.py",
    "pages/deploy.py",
    "pages/chat.py",
    "pages/jobs.py",
]
TIMEOUT = 60


@pytest.fixture(autouse=True)
def _no_supervisor(monkeypatch: pytest.MonkeyPatch) -> None:
    # Jobs stay exactly in the state a test puts them in.
    monkeypatch.setenv("SLMOPS_NO_SUPERVISOR", "1")


@pytest.fixture(autouse=True)
def _live_navigation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run pages the way a live server does once app.py has declared its navigation.

    Before every run AppTest forgets that st.navigation was ever called; with a folder named pages/ next to
    app.py it would then run page files on their own (Streamlit's legacy multipage mode), which a live server
    does at most once, on a fresh server's first page request (test_page_url_on_a_fresh_server covers it)."""

    class LivePagesManager(PagesManager):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            PagesManager.uses_pages_directory = False

    monkeypatch.setattr(app_test, "PagesManager", LivePagesManager)


def open_app(page: str | None = None, project_id: int | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    if project_id is not None:
        at.query_params["project"] = str(project_id)
    if page is not None:
        at.switch_page(page)
    return at.run()


def texts(at: AppTest | Block) -> str:
    """Every piece of text the run rendered (or a part of the page: at.main, at.sidebar), in one string."""
    parts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "success", "warning", "error", "code"):
        parts += [str(e.value) for e in getattr(at, kind)]
    parts += [str(e.proto.text) for e in at.get("progress")]
    parts += [e.proto.label for e in at.get("badge")] if at.get("badge") else []
    return "\n".join(parts)


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


@pytest.fixture
def populated() -> dict[str, int]:
    """A project with teacher and student, and one job in each interesting state."""
    p = projects.create_project("support-router", "Route customer messages to billing, technical or sales.")
    projects.set_teacher(
        p.id,
        TeacherConfig.from_preset(
            Provider.openai_compatible, base_url="http://127.0.0.1:9/v1", model="teacher-7b", system_prompt="Route."
        ),
    )
    projects.set_student(p.id, StudentChoice(source="catalog", model_id="Qwen/Qwen2.5-0.5B-Instruct"))

    done = submit_job("test_steps", {"steps": 4}, project_id=p.id, title="Fine-tune the student")
    set_job_fields(done.id, started_at=utcnow() - timedelta(minutes=5))
    upsert_metrics(done.id, [{"name": "loss", "step": s, "value": 1.0 / s} for s in range(1, 5)])
    finish_job(done.id, JobStatus.succeeded, progress=1.0, message="Done: 4 steps")
    (run_dir(done.id) / "worker.log").write_text("INFO step 4/4 finished\n")

    failed = submit_job("test_steps", {"steps": 4}, project_id=p.id, title="Distill answers")
    finish_job(
        failed.id,
        JobStatus.failed,
        error_label="Row 3 of the data is malformed",
        error_hint="Fix the row and retry.",
        error_detail="Traceback (most recent call last):\nDataError: Row 3 is malformed",
    )

    running = submit_job("test_steps", {"steps": 5}, project_id=p.id, title="Convert to int4")
    set_job_fields(
        running.id,
        status=JobStatus.running,
        progress=0.4,
        message="step 2/5",
        eta_seconds=90,
        started_at=utcnow(),
        heartbeat_at=utcnow(),
    )
    queued = submit_job("test_steps", {"steps": 5}, project_id=p.id, title="Evaluate the student")
    shared = submit_job("test_steps", {"steps": 2}, title="Shared preparation")  # belongs to no project
    other = projects.create_project("other-project")
    foreign = submit_job("test_steps", {"steps": 2}, project_id=other.id, title="Someone else's job")
    return {
        "project": p.id,
        "other": other.id,
        "done": done.id,
        "failed": failed.id,
        "running": running.id,
        "queued": queued.id,
        "shared": shared.id,
        "foreign": foreign.id,
    }


def register_bundled(folder: Path) -> None:
    """Record a prepared bundled model (what the prepare_model job does) pointing at a real model folder."""
    with session_scope() as s:
        s.add(
            ModelVariant(
                name=prepare_model.VARIANT_NAME, stage="import", artifact_path=str(folder), size_bytes=1_000_000
            )
        )


# -- every page renders ------------------------------------------------------------------------------------------


def test_empty_database_home() -> None:
    at = open_app()
    no_exception(at)
    shown = texts(at)
    assert "SLMOps Studio" in shown
    assert "No project yet" in shown
    assert "This machine" in shown and "cores" in str([m.value for m in at.metric])
    assert [b.label for b in at.form_submit_button] == ["Create project"]


def test_empty_database_models_points_to_home() -> None:
    at = open_app("pages/models.py")
    no_exception(at)
    assert "Create or select a project first" in texts(at)


def test_empty_database_jobs() -> None:
    at = open_app("pages/jobs.py")
    no_exception(at)
    assert "No jobs yet" in texts(at)
    assert "Nothing running." in texts(at)


@pytest.mark.parametrize("page", PAGES)
def test_populated_pages_render_in_the_frame(populated: dict[str, int], page: str) -> None:
    at = open_app(page, populated["project"])
    no_exception(at)
    # The frame (sidebar) is there on every page, with the selected project and the running job.
    assert at.sidebar.selectbox[0].value == populated["project"]
    assert "Convert to int4" in texts(at) and "40% · step 2/5 · about 1 min 30 s left" in texts(at)
    assert at.query_params["project"] == str(populated["project"])
    assert "the job runner is not running" in texts(at.sidebar)  # a job is queued and no supervisor runs


def test_populated_home_shows_checklist(populated: dict[str, int]) -> None:
    at = open_app(None, populated["project"])
    shown = texts(at)
    assert "support-router" in [h.value for h in at.header]
    assert "Choose teacher and student" in shown
    assert "teacher: teacher-7b · student: Qwen2.5 0.5B Instruct" in shown
    assert "1 of 7 steps" in shown
    assert "other-project" in shown  # listed under other projects


def test_populated_models_shows_choices_and_catalog(populated: dict[str, int]) -> None:
    at = open_app("pages/models.py", populated["project"])
    shown = texts(at)
    assert "Any OpenAI-compatible URL: teacher-7b at http://127.0.0.1:9/v1" in shown
    assert "Qwen2.5 0.5B Instruct" in shown
    table = at.dataframe[0].value
    assert len(table) == 8 and "SmolLM2 135M Instruct" in set(table["Model"])
    assert {"LoRA", "QLoRA", "Run (int4)", "Licence", "Context"} <= set(table.columns)
    assert table["LoRA"].str.match(r"^[✓!✗] \d").all()
    assert at.text_input(key=f"teacher_{populated['project']}_openai_compatible_model").value == "teacher-7b"


def test_populated_jobs_page_shows_every_state(populated: dict[str, int]) -> None:
    at = open_app("pages/jobs.py", populated["project"])
    no_exception(at)
    shown = texts(at.main)
    for title in ("Fine-tune the student", "Distill answers", "Convert to int4", "Evaluate the student"):
        assert title in shown
    assert "Shared preparation" in shown  # jobs of no project are shown too
    assert "Someone else's job" not in shown
    assert "Row 3 of the data is malformed" in shown and "Fix the row and retry." in shown
    assert "DataError: Row 3 is malformed" in shown  # the traceback, inside an expander
    assert "INFO step 4/4 finished" in shown  # the log tail
    keys = {b.key for b in at.button}
    assert {f"cancel_{populated['queued']}", f"cancel_{populated['running']}", f"retry_{populated['failed']}"} <= keys
    assert f"cancel_{populated['done']}" not in keys and f"retry_{populated['done']}" not in keys
    charts = at.get("plotly_chart")
    assert len(charts) == 1  # only the finished job recorded metrics
    assert '"training loss"' in charts[0].proto.spec  # in plain words


# -- interactions ------------------------------------------------------------------------------------------------


def test_create_project_through_home_form() -> None:
    at = open_app()
    at.text_input[0].input("churn-classifier")
    at.text_input[1].input("Tell whether a customer is about to leave.")
    at.form_submit_button[0].click().run()
    no_exception(at)
    [p] = projects.list_projects()
    assert (p.name, p.goal) == ("churn-classifier", "Tell whether a customer is about to leave.")
    assert at.session_state["project_id"] == p.id
    assert at.query_params["project"] == str(p.id)
    assert "Project 'churn-classifier' created." in texts(at)
    assert at.sidebar.selectbox[0].value == p.id


def test_duplicate_project_name_is_explained() -> None:
    projects.create_project("taken")
    at = open_app()
    at.text_input[0].input("taken")
    at.form_submit_button[0].click().run()
    no_exception(at)
    assert "A project named 'taken' already exists" in texts(at)
    assert len(projects.list_projects()) == 1


def test_reload_recovers_the_selected_project_from_the_url() -> None:
    first = projects.create_project("first")
    projects.create_project("second")
    at = open_app("pages/models.py", first.id)
    assert at.sidebar.selectbox[0].value == first.id
    assert "Project **first**" in texts(at)


def test_sidebar_picker_switches_project() -> None:
    first = projects.create_project("first")
    second = projects.create_project("second")
    at = open_app()
    assert at.sidebar.selectbox[0].value == second.id  # the most recent by default
    at.sidebar.selectbox[0].select(first.id).run()
    assert at.session_state["project_id"] == first.id
    assert at.query_params["project"] == str(first.id)
    assert "first" in [h.value for h in at.header]


def test_save_teacher_on_models_page() -> None:
    p = projects.create_project("demo")
    at = open_app("pages/models.py", p.id)
    at.selectbox(key=f"teacher_provider_{p.id}").select(Provider.ollama).run()
    key = f"teacher_{p.id}_ollama"
    assert at.text_input(key=f"{key}_url").value == "http://127.0.0.1:11434/v1"  # the preset's default
    at.text_input(key=f"{key}_model").input("llama3.2:1b")
    at.text_area(key=f"{key}_system_prompt").input("Answer with one word.")
    at.text_input(key=f"{key}_labels").input("billing, account ,")
    at.number_input(key=f"{key}_example_shots").set_value(2)
    at.button(key=f"FormSubmitter:{key}-Save teacher").click().run()
    no_exception(at)
    teacher = projects.project_teacher(projects.get_project(p.id))
    assert teacher is not None
    assert (teacher.provider, teacher.base_url, teacher.model) == (
        Provider.ollama,
        "http://127.0.0.1:11434/v1",
        "llama3.2:1b",
    )
    assert teacher.system_prompt == "Answer with one word."
    assert (teacher.labels, teacher.example_shots) == (["billing", "account"], 2)
    assert "Teacher saved: Ollama · llama3.2:1b" in texts(at)


def test_invalid_teacher_settings_are_explained_not_saved() -> None:
    p = projects.create_project("demo")
    at = open_app("pages/models.py", p.id)
    at.selectbox(key=f"teacher_provider_{p.id}").select(Provider.openai_compatible).run()
    key = f"teacher_{p.id}_openai_compatible"
    at.text_input(key=f"{key}_url").input("localhost:8080")
    at.text_input(key=f"{key}_model").input("m")
    at.text_input(key=f"{key}_key_env").input("sk-this is a key")
    at.button(key=f"FormSubmitter:{key}-Save teacher").click().run()
    no_exception(at)
    shown = texts(at)
    assert "Please fix these settings" in shown
    # a key typed where its variable's name belongs is refused in so many words
    assert "Name of the API key variable: this looks like the key itself: give the name of the variable" in shown
    assert projects.get_project(p.id).teacher is None
    at.text_input(key=f"{key}_key_env").input("")
    at.button(key=f"FormSubmitter:{key}-Save teacher").click().run()
    assert "'Base URL' must start with http:// or https://" in texts(at)
    assert "Traceback" not in texts(at)


@pytest.fixture
def teacher_url(teacher_server) -> str:
    teacher_server.behaviour.models = ("tiny-teacher",)
    return teacher_server.url


def _test_connection(project_id: int, url: str) -> AppTest:
    at = open_app("pages/models.py", project_id)
    at.selectbox(key=f"teacher_provider_{project_id}").select(Provider.openai_compatible).run()
    key = f"teacher_{project_id}_openai_compatible"
    at.text_input(key=f"{key}_url").input(url)
    at.text_input(key=f"{key}_model").input("tiny-teacher")
    at.button(key=f"FormSubmitter:{key}-Test connection").click().run()
    no_exception(at)
    return at


def test_connection_test_reports_latency(teacher_url: str) -> None:
    p = projects.create_project("demo")
    at = _test_connection(p.id, teacher_url)
    assert any(s.value.startswith("Connected to tiny-teacher in ") for s in at.success)
    assert projects.get_project(p.id).teacher is None  # testing does not save


def test_connection_test_explains_an_unreachable_endpoint(teacher_url: str) -> None:
    p = projects.create_project("demo")
    with socket_closed_port() as port:
        at = _test_connection(p.id, f"http://127.0.0.1:{port}/v1")
    assert f"Cannot reach http://127.0.0.1:{port}/v1" in texts(at)
    assert "Check the URL and port" in texts(at)


class socket_closed_port:  # noqa: N801 - used as a context manager
    """A loopback port that nothing listens on."""

    def __enter__(self) -> int:
        import socket

        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        return self.port

    def __exit__(self, *exc) -> None:
        pass


def test_catalog_student_offline_shows_what_to_do() -> None:
    p = projects.create_project("demo")
    at = open_app("pages/models.py", p.id)
    at.selectbox(key=f"student_catalog_{p.id}").select("HuggingFaceTB/SmolLM2-360M-Instruct")
    at.button(key=f"use_catalog_{p.id}").click().run()
    no_exception(at)
    shown = texts(at)
    assert "HuggingFaceTB/SmolLM2-360M-Instruct is not on this machine and the model hub cannot be reached" in shown
    assert "bundled offline model" in shown
    assert projects.get_project(p.id).student is None


def test_local_folder_student(tiny_model_dir: Path) -> None:
    p = projects.create_project("demo")
    at = open_app("pages/models.py", p.id)
    at.radio(key=f"student_source_{p.id}").set_value("local").run()
    at.text_input(key=f"student_folder_{p.id}").input("/nowhere/model")
    at.button(key=f"use_folder_{p.id}").click().run()
    assert "No folder at /nowhere/model" in texts(at)
    assert projects.get_project(p.id).student is None

    at.text_input(key=f"student_folder_{p.id}").input(str(tiny_model_dir))
    at.button(key=f"use_folder_{p.id}").click().run()
    no_exception(at)
    student = projects.project_student(projects.get_project(p.id))
    assert student == StudentChoice(source="local", path=str(tiny_model_dir.resolve()))
    assert "Student set: Folder" in texts(at) and "llama" in texts(at)


def test_prepare_bundled_model_queues_a_job_and_shows_progress() -> None:
    p = projects.create_project("demo")
    at = open_app("pages/models.py", p.id)
    assert at.button(key="use_demo_pair").disabled
    at.button(key="prepare_bundled").click().run()
    no_exception(at)
    with session_scope() as s:
        [job] = s.query(Job).all()
    assert (job.kind, job.status, job.project_id) == ("prepare_model", JobStatus.queued, None)
    assert "Prepare the bundled offline model: 0% · Waiting for a worker" in texts(at)
    assert "prepare_bundled" not in {b.key for b in at.button}  # no second job while one is queued


def test_offline_demo_pair(tiny_model_dir: Path) -> None:
    register_bundled(tiny_model_dir)
    p = projects.create_project("demo", "Route messages to billing or sales.")
    at = open_app("pages/models.py", p.id)
    at.button(key="use_demo_pair").click().run()
    no_exception(at)
    project = projects.get_project(p.id)
    teacher, student = projects.project_teacher(project), projects.project_student(project)
    assert student is not None and student.source == "bundled"
    assert teacher is not None and teacher.provider == Provider.local
    assert teacher.local_path == str(tiny_model_dir)
    assert "Route messages to billing or sales." in teacher.system_prompt
    assert teacher.example_shots == 4 and teacher.labels == []  # task-aware: the data's labels and examples
    assert "Offline demo pair set" in texts(at)
    [shots] = [w for w in at.number_input if w.label == "Examples from your data per prompt"]
    assert shots.value == 4
    # The forms now show what was saved, not what they showed before.
    [provider] = [w for w in at.selectbox if w.label == "Teacher type"]
    assert provider.value == Provider.local
    [folder] = [w for w in at.text_input if w.label == "Model folder on this machine"]
    assert folder.value == str(tiny_model_dir)
    [source] = [w for w in at.radio if w.label == "Where does the student come from?"]
    assert source.value == "bundled"
    [test] = [b for b in at.button if b.label == "Test connection"]
    test.click().run()
    assert any(s.value.startswith("Model folder ready (llama") for s in at.success)


def test_cancel_queued_job_on_jobs_page(populated: dict[str, int]) -> None:
    at = open_app("pages/jobs.py", populated["project"])
    at.button(key=f"cancel_{populated['queued']}").click().run()
    no_exception(at)
    assert get_job(populated["queued"]).status == JobStatus.cancelled
    assert "Cancelled." in texts(at)
    assert f"retry_{populated['queued']}" in {b.key for b in at.button}


def test_cancel_running_job_asks_it_to_stop(populated: dict[str, int]) -> None:
    at = open_app("pages/jobs.py", populated["project"])
    at.button(key=f"cancel_{populated['running']}").click().run()
    job = get_job(populated["running"])
    assert job.status == JobStatus.running and job.cancel_requested_at is not None
    assert at.button(key=f"cancel_{populated['running']}").disabled
    assert "Asked the job to stop." in texts(at)


def test_retry_failed_job(populated: dict[str, int]) -> None:
    at = open_app("pages/jobs.py", populated["project"])
    at.button(key=f"retry_{populated['failed']}").click().run()
    no_exception(at)
    job = get_job(populated["failed"])
    assert (job.status, job.attempt, job.error_label) == (JobStatus.queued, 2, None)
    assert "Queued again" in texts(at)


def test_selection_of_a_deleted_project_falls_back() -> None:
    p = projects.create_project("gone")
    keep = projects.create_project("kept")
    with session_scope() as s:
        s.delete(s.get(Project, p.id))
    at = open_app("pages/jobs.py", p.id)
    no_exception(at)
    assert at.sidebar.selectbox[0].value == keep.id


def test_page_url_on_a_fresh_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bookmark to a page, first request after a restart: the page still loads inside app.py's frame."""
    monkeypatch.setattr(app_test, "PagesManager", PagesManager)  # the legacy mode, as on a fresh server
    p = projects.create_project("bookmarked")
    at = open_app("pages/models.py", p.id)
    no_exception(at)
    assert at.title[0].value == "Models"
    assert at.sidebar.selectbox[0].value == p.id  # the frame ran: sidebar and project selection
    assert "Project **bookmarked**" in texts(at)


def test_run_the_rest_from_home_queues_the_chain_with_the_demo_pair(tiny_model_dir: Path) -> None:
    from slmops_engine.data import list_datasets

    p = projects.create_project("demo", "Route messages.")
    at = open_app(None, p.id)
    assert at.button(key=f"run_rest_{p.id}").disabled  # the bundled model is not prepared yet
    assert at.button(key="prepare_bundled")  # offered right here
    register_bundled(tiny_model_dir)
    at.run()
    shown = texts(at)
    assert "Left to do: the teacher answers your examples; the flagged answers are left out;" in shown
    assert "About 8 minutes on a 2-core laptop." in shown
    at.button(key=f"run_rest_{p.id}").click().run()
    no_exception(at)
    with session_scope() as s:
        (job,) = s.query(Job).filter(Job.kind == "pipeline").all()
    names = ["distil", "keep", "finetune", "int4", "evaluate", "deploy"]
    assert [step["name"] for step in job.config["steps"]] == names
    assert job.config["steps"][2]["config"]["epochs"] == 3.0  # the quick preset
    teacher = projects.project_teacher(projects.get_project(p.id))
    assert teacher.example_shots == 4 and teacher.local_path == str(tiny_model_dir)
    assert [d.stage for d in list_datasets(p.id)] == ["sample"]
    assert at.button(key=f"run_rest_{p.id}").disabled  # one chain at a time
    finish_job(job.id, JobStatus.succeeded, progress=1.0, result={"steps": {}, "results": {}})
    at.run()
    no_exception(at)
    assert any("pipeline file" in b.proto.label for b in at.get("download_button"))
    assert "See the result on the Evaluate page" in [link.proto.label for link in at.get("page_link")]


def test_a_named_key_that_is_nowhere_is_flagged_and_can_be_kept_in_the_keyring(monkeypatch) -> None:
    monkeypatch.delenv("MY_ENDPOINT_KEY", raising=False)
    p = projects.create_project("keyed")
    at = open_app("pages/models.py", p.id)
    at.selectbox(key=f"teacher_provider_{p.id}").select(Provider.openai_compatible).run()
    key = f"teacher_{p.id}_openai_compatible"
    at.text_input(key=f"{key}_key_env").input("MY_ENDPOINT_KEY")
    at.button(key=f"FormSubmitter:{key}-Save teacher").click().run()
    no_exception(at)
    shown = texts(at)
    assert "`MY_ENDPOINT_KEY` is not set: the teacher's jobs will not run without it" in shown
    # this machine has no keyring (tests/conftest.py): keeping the key says what to do instead
    at.text_input(key="keyring_value_MY_ENDPOINT_KEY").input("k-0123456789abcdef").run()
    at.button(key="keyring_keep_MY_ENDPOINT_KEY").click().run()
    no_exception(at)
    shown = texts(at)
    assert "This machine has no keyring to keep MY_ENDPOINT_KEY in" in shown and "export MY_ENDPOINT_KEY" in shown
    assert "k-0123456789abcdef" not in shown
