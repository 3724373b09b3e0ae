"""Drive the real app (a `streamlit run` subprocess with its own job supervisor) in Debian's headless Chromium."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from slmops_engine import projects
from slmops_engine.jobs import submit_job, wait_for_job
from slmops_engine.jobs.supervisor import supervisor_pid
from slmops_engine.models import JobStatus
from tests.support.app_server import CHROMIUM, AppDidNotStart, browser_page, running_app

pytestmark = pytest.mark.e2e

JOB_TIMEOUT_MS = 10 * 60_000  # a page that waits for a whole job: as long as the job may take, not a UI delay


def _require_browser() -> None:
    reason = None
    if not Path(CHROMIUM).exists():
        reason = f"{CHROMIUM} is missing (install it with `apt-get install chromium`)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "playwright is not installed (pip install -e '.[dev]')"
    if reason:
        if os.environ.get("SLMOPS_REQUIRE_E2E") == "1":
            pytest.fail(f"Browser tests are required (SLMOPS_REQUIRE_E2E=1) but {reason}")
        pytest.skip(f"Browser tests skipped: {reason}")


@pytest.fixture
def app_url(slmops_home: Path, tmp_path: Path) -> Iterator[str]:
    """The app on a free loopback port, using this test's SLMOPS_HOME (so its database is the test's)."""
    _require_browser()
    try:
        with running_app(slmops_home, tmp_path / "streamlit.log") as (url, _):
            yield url
    except AppDidNotStart as exc:
        pytest.fail(str(exc))


def test_create_project_choose_models_and_watch_jobs(app_url: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with browser_page() as page:
        # Home: create a project.
        page.goto(app_url)
        expect(page.get_by_role("heading", name="SLMOps Studio")).to_be_visible()
        page.get_by_label("Project name").fill("e2e-router")
        page.get_by_label("Goal, in one sentence").fill("Route messages to billing or sales.")
        page.get_by_role("button", name="Create project").click()
        expect(page.get_by_text("Project 'e2e-router' created.")).to_be_visible()
        expect(page.get_by_role("heading", name="e2e-router")).to_be_visible()
        [project] = projects.list_projects()
        assert project.name == "e2e-router"
        expect(page).to_have_url(f"{app_url}/?project={project.id}")

        # Models: the catalog with memory estimates for this machine.
        page.get_by_role("link", name="Models").first.click()
        expect(page.get_by_role("heading", name="Models")).to_be_visible()
        page.get_by_role("tab", name="Student").click()
        # The grid draws on a canvas; its cells live in an accessibility table behind it.
        cells = page.locator("[data-testid=stDataFrame] [role=gridcell]")
        expect(cells.filter(has_text="SmolLM2 135M Instruct")).to_be_attached()
        expect(cells.filter(has_text="Qwen2.5 0.5B Instruct")).to_be_attached()
        expect(cells.filter(has_text=" GB").first).to_be_attached()  # memory estimates
        expect(page.get_by_role("button", name="Use as student")).to_be_visible()
        assert f"project={project.id}" in page.url  # the selection survives page switches

        # Data: upload a file, validate it, import it.
        page.get_by_role("link", name="Data").first.click()
        expect(page.get_by_role("heading", name="Data")).to_be_visible()
        upload = tmp_path / "tickets.jsonl"
        upload.write_text(
            '{"prompt": "my parcel never came", "response": "shipping"}\n'
            '{"prompt": "charged twice", "response": "billing"}\n'
        )
        page.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(str(upload))
        page.get_by_role("button", name="Validate every row").click()
        page.get_by_role("button", name="Import 2 rows").click()
        expect(page.get_by_text("Dataset “tickets” stored: 2 rows.")).to_be_visible()
        from slmops_engine.data import list_datasets

        assert [d.n_rows for d in list_datasets(project.id)] == [2]

        # The distillation and fine-tuning pages load and guide the operator (no teacher / student chosen yet).
        for name, guidance in (
            ("Distill", "Choose the teacher on Models"),
            ("Fine-tune", "Choose the student on Models"),
        ):
            page.get_by_role("link", name=name).first.click()
            expect(page.get_by_role("heading", name=name)).to_be_visible()
            expect(page.get_by_role("link", name=guidance)).to_be_visible()

        # Jobs: a job run by the app's own supervisor shows up as succeeded, with its metrics chart.
        assert supervisor_pid() is not None, "the app did not start the job supervisor"
        job = submit_job("test_steps", {"steps": 3, "step_seconds": 0.1}, project_id=project.id, title="E2E job")
        assert wait_for_job(job.id, timeout=300).status == JobStatus.succeeded
        page.get_by_role("link", name="Jobs").first.click()
        expect(page.get_by_role("heading", name="Jobs")).to_be_visible()
        expect(page.get_by_text(f"#{job.id} · E2E job")).to_be_visible()
        expect(page.get_by_text("Succeeded", exact=True).first).to_be_visible()
        expect(page.locator(".js-plotly-plot").first).to_be_visible()

        # A reload keeps the selected project.
        page.reload()
        expect(page.get_by_text("Showing project e2e-router")).to_be_visible()

        shot = tmp_path / "jobs.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000


def test_deploy_and_chat_in_the_browser(serving, tiny_onnx, app_url: str, tmp_path: Path) -> None:
    """A tiny int4 model deployed from the Deploy page to the real Foundry Local runtime answers on the Chat page."""
    from playwright.sync_api import expect

    from slmops_engine.db import session_scope
    from slmops_engine.models import DeploymentStatus, ModelVariant
    from slmops_engine.serving import deployments as deps

    project = projects.create_project("e2e-deploy")
    with session_scope() as s:
        s.add(
            ModelVariant(
                project_id=project.id,
                name="tiny · ONNX int4",
                stage="convert",
                format="onnx",
                precision="int4",
                artifact_path=str(tiny_onnx["llama"]),
            )
        )
    with browser_page() as page:
        page.goto(f"{app_url}/deploy?project={project.id}")
        expect(page.get_by_role("heading", name="Deploy", exact=True)).to_be_visible()
        page.get_by_role("button", name="Deploy", exact=True).click()
        expect(page.get_by_text("Deploying tiny · ONNX int4 as")).to_be_visible()
        (d,) = deps.list_deployments()
        assert deps.wait_for(d.id, {DeploymentStatus.running, DeploymentStatus.failed}, 180).status == "running"
        expect(page.get_by_text("Endpoint (OpenAI-compatible)")).to_be_visible()  # the list refreshes by itself

        page.get_by_role("link", name="Chat").first.click()
        expect(page.get_by_role("heading", name="Chat", exact=True)).to_be_visible()
        page.get_by_placeholder("Message").fill("where is my parcel")
        page.keyboard.press("Enter")
        expect(page.get_by_text("first token after").first).to_be_visible()
        expect(page.get_by_test_id("stChatMessage")).to_have_count(2)
        assert deps.get_deployment(d.id).requests == 1


def test_evaluate_in_the_browser_shows_results_and_charts(tiny_model_dir, tiny_onnx, app_url: str, tmp_path: Path):
    """An evaluation started on the Evaluate page runs in the app's own job runner; its dashboards render."""
    from playwright.sync_api import expect

    from tests.support.evaluation import project_with_teacher, register, route_or_judge, routing_dataset
    from tests.support.openai_server import OpenAIServer

    with OpenAIServer(answer=route_or_judge) as srv, browser_page() as page:
        project = project_with_teacher(srv.url, "e2e-evaluate")
        routing_dataset(tmp_path, project.id)
        base = register(tiny_model_dir, stage="import", fmt="hf", precision="float32", project_id=project.id)
        register(
            tiny_onnx["llama"], stage="convert", fmt="onnx", precision="int4", parent_id=base.id, project_id=project.id
        )
        page.goto(f"{app_url}/evaluate?project={project.id}")
        expect(page.get_by_role("heading", name="Evaluate", exact=True)).to_be_visible()
        page.get_by_role("button", name="Start evaluation").click()
        # The whole evaluation job runs meanwhile (a worker loads torch and two models): minutes on a loaded machine.
        expect(page.get_by_text("of the teacher's accuracy").first).to_be_visible(timeout=JOB_TIMEOUT_MS)
        expect(page.get_by_test_id("stPlotlyChart").first).to_be_visible()
        expect(page.locator(".js-plotly-plot .main-svg").first).to_be_visible()  # Plotly drew it
        page.get_by_role("tab", name="Trade-offs").click()
        expect(page.get_by_text("Pareto front").first).to_be_visible()
        page.screenshot(path=str(tmp_path / "evaluate.png"), full_page=True)


FIRST_RUN_TIMEOUT_MS = 20 * 60_000  # the chain takes about 8 minutes on 2 cores; room for a loaded machine
MAX_CLICKS = 25


NEXT_LINKS = (
    ("models", "Next: bring your examples on Data"),
    ("data", "Next: let the teacher answer on Distill"),
    ("distill", "Next: fine-tune the student on the reviewed answers"),
    ("finetune", "Next: make it small and fast on Optimize"),
    ("optimize", re.compile("^Next: deploy")),
    ("deploy", "Next: chat with a deployment"),
)


@pytest.mark.slow
@pytest.mark.timeout(FIRST_RUN_TIMEOUT_MS // 1000 + 300)
def test_first_run_from_a_fresh_home_shows_a_real_gain_in_a_few_clicks(serving, app_url: str, tmp_path: Path):
    """A newcomer's first run, clicking only: create a project, prepare the bundled model, run the rest, read
    the result on Evaluate. The real bundled SmolLM2 teaches itself the sample's routes."""
    from playwright.sync_api import expect

    from slmops_engine.evaluate.runner import load_evaluation
    from slmops_engine.jobs import list_jobs

    clicks = 0

    def click(locator) -> None:
        nonlocal clicks
        clicks += 1
        locator.click()

    with browser_page() as page:
        page.goto(app_url)
        click(page.get_by_label("Project name"))
        page.get_by_label("Project name").fill("first-run")
        click(page.get_by_role("button", name="Create project"))
        expect(page.get_by_role("heading", name="first-run")).to_be_visible()
        prepare = re.compile(r"^Prepare the bundled model \((under a minute|about \d+ minutes?), once\)$")
        click(page.get_by_role("button", name=prepare))
        run = page.locator("button:enabled:visible", has_text="Run the rest for me")  # once the model is prepared
        expect(run).to_be_visible(timeout=JOB_TIMEOUT_MS)  # the preparation job converts the bundled model
        expect(page.get_by_text("About 8 minutes on a 2-core laptop.", exact=False)).to_be_visible()
        click(run)
        result = page.get_by_role("link", name="See the result on the Evaluate page")
        expect(result).to_be_visible(timeout=FIRST_RUN_TIMEOUT_MS)
        click(result)
        expect(page.get_by_text("of the teacher's accuracy").first).to_be_visible(timeout=60_000)
        expect(page.locator(".js-plotly-plot .main-svg").first).to_be_visible()
        page.screenshot(path=str(tmp_path / "first-run.png"), full_page=True)
        # every step that is done now ends with the link to the next one
        [project] = projects.list_projects()
        for path, link in NEXT_LINKS:
            page.goto(f"{app_url}/{path}?project={project.id}")
            expect(page.get_by_role("link", name=link).first).to_be_visible(timeout=60_000)
    assert clicks <= MAX_CLICKS
    ended = [c.pid for c in psutil.Process(supervisor_pid()).children() if c.status() == psutil.STATUS_ZOMBIE]
    assert not ended, f"workers left as zombies under the supervisor: {ended}"
    [project] = projects.list_projects()
    [evaluation] = [j for j in list_jobs(project.id) if j.kind == "evaluate"]
    accuracy = {v.kind: v.metrics.label_accuracy for v in load_evaluation(evaluation.id).variants}
    # The chain's four variants; the distilled int4 student beats the base student by far.
    assert set(accuracy) == {"teacher", "base", "finetune", "onnx"}, accuracy
    assert accuracy["onnx"] >= accuracy["base"] + 0.3, accuracy
    assert accuracy["onnx"] >= 0.9 * accuracy["teacher"], accuracy
