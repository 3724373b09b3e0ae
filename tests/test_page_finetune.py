"""The Fine-tune page through AppTest: guidance, settings and preflight, QLoRA refused on a CPU machine, a real
training run on the tiny model (live curves, results, command line), cancel and resume."""

from __future__ import annotations

import json

import pytest

from slmops_engine import projects
from slmops_engine.data import import_file
from slmops_engine.db import session_scope
from slmops_engine.jobs import get_job, run_dir, submit_job
from slmops_engine.jobs.rows import finish_job, set_job_fields, upsert_metrics
from slmops_engine.jobs.worker import run_job
from slmops_engine.models import Job, JobStatus, utcnow
from slmops_engine.students import StudentChoice
from slmops_engine.teachers import Provider, TeacherConfig
from slmops_engine.variants import list_variants
from tests.test_pages import _live_navigation, _no_supervisor, no_exception, open_app, texts  # noqa: F401

PAGE = "pages/finetune.py"


def _rows(n: int = 40, answers: bool = True) -> list[dict]:
    rows = []
    for i in range(n):
        billing = i % 2 == 0
        row = {"prompt": f"{'refund the double charge' if billing else 'reset my password'} please {i}"}
        if answers:
            row["response"] = "billing" if billing else "account"
        row["split"] = "validation" if i % 5 == 0 else "train"
        rows.append(row)
    return rows


def _import(tmp_path, project_id: int, rows: list[dict], name: str = "routing"):
    f = tmp_path / f"{name}.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    ds, _ = import_file(f, project_id=project_id, name=name)
    return ds


@pytest.fixture
def project(tiny_model_dir):
    p = projects.create_project("router", "Route support messages.")
    return projects.set_student(p.id, StudentChoice(source="local", path=str(tiny_model_dir)))


@pytest.fixture
def ready(project, tmp_path):
    """A project with a local student and 40 prompt/response rows (32 train, 8 validation)."""
    return project, _import(tmp_path, project.id, _rows())


def _finetune_jobs() -> list[Job]:
    with session_scope() as s:
        return list(s.query(Job).filter(Job.kind == "finetune").order_by(Job.id).all())


def _quick_start(at, project_id: int, max_steps: int = 6):
    k = f"ft_{project_id}"
    at.radio(key=f"{k}_preset").set_value("quick").run()
    at.number_input(key=f"{k}_max_steps").set_value(max_steps)
    at.number_input(key=f"{k}_batch_size").set_value(4)
    at.number_input(key=f"{k}_eval_steps").set_value(3)
    at.number_input(key=f"{k}_save_steps").set_value(3)
    at.number_input(key=f"{k}_learning_rate").set_value(1e-2)
    at.selectbox(key=f"{k}_precision").set_value("fp32").run()
    no_exception(at)
    at.button(key="finetune_start").click().run()
    no_exception(at)
    return at


def _start_button(at):
    return at.button(key="finetune_start")


# -- guidance ------------------------------------------------------------------------------------------------------


def test_no_student_points_to_models() -> None:
    p = projects.create_project("empty")
    at = open_app(PAGE, p.id)
    no_exception(at)
    shown = texts(at)
    assert "No student chosen yet" in shown
    assert any("Models" in link.proto.label for link in at.get("page_link"))
    assert "No fine-tuned models yet" in shown
    assert not [b for b in at.button if b.key == "finetune_start"]


def test_student_but_no_data_points_to_data(project) -> None:
    at = open_app(PAGE, project.id)
    no_exception(at)
    assert "No data yet" in texts(at)
    assert any("Data" in link.proto.label for link in at.get("page_link"))


def test_prompts_without_answers_point_to_distill(project, tmp_path) -> None:
    _import(tmp_path, project.id, _rows(answers=False), "prompts")
    at = open_app(PAGE, project.id)
    no_exception(at)
    assert "prompts but no answers" in texts(at)
    assert any("Distill" in link.proto.label for link in at.get("page_link"))


def test_student_missing_from_this_machine(tmp_path) -> None:
    p = projects.create_project("gone")
    projects.set_student(p.id, StudentChoice(source="local", path=str(tmp_path / "nowhere")))
    at = open_app(PAGE, p.id)
    no_exception(at)
    assert "is not on this machine yet" in texts(at)


# -- settings ------------------------------------------------------------------------------------------------------


def test_settings_default_to_teacher_answers_lora_balanced(ready, tmp_path) -> None:
    project, uploaded = ready
    answered = _import(tmp_path, project.id, _rows(), "answered")
    with session_scope() as s:  # as if the teacher had answered it (the Distill stage makes such datasets)
        row = s.get(type(answered), answered.id)
        row.stage = "synth"
        s.add(row)
    at = open_app(PAGE, project.id)
    no_exception(at)
    k = f"ft_{project.id}"
    assert at.selectbox(key=f"{k}_dataset").value == answered.id  # teacher-answered first, though older ids exist
    assert at.selectbox(key=f"{k}_dataset").options[0].endswith("teacher's answers")
    assert at.radio(key=f"{k}_method").value == "lora"
    assert at.radio(key=f"{k}_preset").value == "balanced"
    shown = texts(at)
    assert "8 validation examples" in shown
    assert "Checks passed" in shown and "Needs about" in shown
    assert "(measured on a 2-core laptop, scaled to this model's size)" in shown  # never run here: no history
    assert "About 8 training steps" in shown  # 32 rows / batch 8 = 4 steps a pass, 2 passes
    assert not _start_button(at).disabled
    # every hyper-parameter has its one-line help from the config
    assert at.number_input(key=f"{k}_lora_r").help.startswith("Adapter rank")

    at.radio(key=f"{k}_preset").set_value("thorough").run()
    assert at.number_input(key=f"{k}_lora_r").value == 32
    assert at.number_input(key=f"{k}_early_stopping_patience").value == 3
    at.radio(key=f"{k}_method").set_value("full").run()
    assert at.number_input(key=f"{k}_learning_rate").value == pytest.approx(1e-5)  # full: 10x smaller
    assert at.number_input(key=f"{k}_lora_r").disabled


def test_every_setting_widget_is_built_from_its_field(ready, tiny_model_dir) -> None:
    from slmops_engine.fields import field_spec
    from slmops_engine.finetune.config import FinetuneConfig
    from slmops_ui.fields import limits
    from slmops_ui.finetune_settings import ADVANCED

    project, ds = ready
    projects.set_teacher(project.id, TeacherConfig(provider=Provider.local, local_path=str(tiny_model_dir)))
    at = open_app(PAGE, project.id)
    k = f"ft_{project.id}"
    at.toggle(key=f"{k}_kd").set_value(True).run()
    no_exception(at)
    widgets = {w.key: w for w in [*at.number_input, *at.selectbox, *at.text_input, *at.toggle, *at.slider, *at.radio]}
    keys = {n: f"{k}_{n}" for n in ADVANCED} | {
        "method": f"{k}_method",
        "kd": f"{k}_kd",
        "adapter_name": f"{k}_adapter",
    }
    keys |= {"kd_teacher_path": f"{k}_kd_path", "kd_temperature": f"{k}_kd_t", "kd_alpha": f"{k}_kd_alpha"}
    keys["output_name"] = f"{k}_{ds.id}_name"
    for name, key in keys.items():
        spec, widget = field_spec(FinetuneConfig, name), widgets[key]
        assert widget.label == spec.title and widget.help.startswith(spec.help), name
        if spec.kind in (int, float):
            assert (widget.min, widget.max) == pytest.approx(limits(spec)), name
            assert widget.step == pytest.approx(spec.step or 1), name
        if spec.choices and name != "method":
            assert tuple(widget.options) == spec.choices, name


def test_qlora_is_shown_unavailable_on_a_cpu_machine(ready) -> None:
    project, _ = ready
    at = open_app(PAGE, project.id)
    k = f"ft_{project.id}"
    method = at.radio(key=f"{k}_method")
    assert "QLoRA — not available here" in method.options
    assert "needs an NVIDIA GPU" in json.dumps(list(method.proto.captions))
    method.set_value("qlora").run()
    no_exception(at)
    assert at.radio(key=f"{k}_method").value == "qlora"  # never silently swapped for LoRA
    assert "QLoRA needs a CUDA GPU" in texts(at)  # the preflight says why Start is disabled
    assert _start_button(at).disabled


def test_invalid_adapter_name_is_explained_and_blocks_start(ready) -> None:
    project, _ = ready
    at = open_app(PAGE, project.id)
    at.text_input(key=f"ft_{project.id}_adapter").set_value("my adapter!").run()
    no_exception(at)
    assert "Adapter name: use only letters, digits and underscores" in texts(at)
    assert _start_button(at).disabled


def test_logit_distillation_needs_a_local_teacher(ready, tiny_model_dir) -> None:
    project, _ = ready
    k = f"ft_{project.id}"
    at = open_app(PAGE, project.id)
    assert at.toggle(key=f"{k}_kd").disabled
    assert "Needs a teacher that runs on this machine" in texts(at)

    projects.set_teacher(project.id, TeacherConfig(provider=Provider.local, local_path=str(tiny_model_dir)))
    at = open_app(PAGE, project.id)
    assert not at.toggle(key=f"{k}_kd").disabled
    at.toggle(key=f"{k}_kd").set_value(True).run()
    no_exception(at)
    assert at.text_input(key=f"{k}_kd_path").value == str(tiny_model_dir)  # prefilled with the project's teacher
    assert not _start_button(at).disabled


# -- a real run ----------------------------------------------------------------------------------------------------


def test_quick_run_trains_for_real_and_shows_curves_results_and_command(ready) -> None:
    project, ds = ready
    at = open_app(PAGE, project.id)
    at = _quick_start(at, project.id, max_steps=6)
    (job,) = _finetune_jobs()
    assert job.project_id == project.id and job.status == JobStatus.queued
    cfg = job.config
    assert cfg["dataset_id"] == ds.id and cfg["method"] == "lora" and cfg["max_steps"] == 6
    assert cfg["lora_r"] == 16 and cfg["epochs"] == 3.0  # the Quick preset
    assert cfg["student"] == {"source": "local", "model_id": None, "path": project.student["path"]}
    assert "Run #" in texts(at) and "Queued" in texts(at)
    assert _start_button(at).disabled  # one run at a time

    assert run_job(job.id) == JobStatus.succeeded
    at.run()
    no_exception(at)
    shown = texts(at)
    assert "Done: validation loss" in shown
    charts = json.dumps([c.proto.spec for c in at.get("plotly_chart")])
    assert "training loss" in charts and "validation loss" in charts and "Learning rate" in charts
    (variant,) = list_variants(project.id, stage="finetune")
    assert variant.job_id == job.id
    assert f"#{variant.id}" in str(at.dataframe[-1].value["Model"].tolist())
    assert "slmops finetune --dataset" in shown and "--max-steps 6" in shown
    assert "Adapters by base model" in shown and "`default`" in shown
    assert not _start_button(at).disabled  # the next run may start


def test_two_adapters_on_one_base_are_grouped(ready) -> None:
    project, ds = ready
    for name in ("billing", "tone"):
        at = open_app(PAGE, project.id)
        at.text_input(key=f"ft_{project.id}_adapter").set_value(name).run()
        at = _quick_start(at, project.id, max_steps=2)
        assert run_job(_finetune_jobs()[-1].id) == JobStatus.succeeded
    at = open_app(PAGE, project.id)
    no_exception(at)
    shown = texts(at)
    assert "multi-adapter · 2 adapters" in shown
    assert "`billing`" in shown and "`tone`" in shown


# -- live view, cancel and resume ----------------------------------------------------------------------------------


def _running_job(project, ds) -> Job:
    cfg = {"dataset_id": ds.id, "student": project.student, "project_id": project.id, "max_steps": 40}
    job = submit_job("finetune", cfg, project_id=project.id, title="Fine-tune (lora) on routing", check=False)
    set_job_fields(
        job.id,
        status=JobStatus.running,
        progress=0.4,
        message="step 12/40 · loss 1.234 · 110 tokens/s",
        eta_seconds=75,
        started_at=utcnow(),
        heartbeat_at=utcnow(),
    )
    points = [{"name": "eval_loss", "step": 0, "value": 2.5}, {"name": "eval_loss", "step": 10, "value": 1.9}]
    for s in range(1, 13):
        points += [
            {"name": "loss", "step": s, "value": 3.0 / s},
            {"name": "learning_rate", "step": s, "value": 2e-4 * s / 12},
            {"name": "ce_loss", "step": s, "value": 2.0 / s},
            {"name": "kl_loss", "step": s, "value": 1.0 / s},
            {"name": "tokens_per_s", "step": s, "value": 110.0},
            {"name": "ram_gb", "step": s, "value": 1.25},
        ]
    upsert_metrics(job.id, points)
    return job


def test_running_job_shows_live_numbers_curves_and_cancel(ready) -> None:
    project, ds = ready
    job = _running_job(project, ds)
    at = open_app(PAGE, project.id)
    no_exception(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Step"] == "12 / 40" and metrics["Tokens per second"] == "110" and metrics["Memory"] == "1.25 GB"
    assert metrics["Validation loss"] == "1.900" and metrics["Time left"] == "1 min 15 s"
    charts = json.dumps([c.proto.spec for c in at.get("plotly_chart")])
    assert "distance to the teacher (KL)" in charts and "answer loss (cross-entropy)" in charts
    assert "Settings for the next run" in [e.label for e in at.expander]
    assert _start_button(at).disabled
    cancel = at.button(key=f"finetune_cancel_{job.id}")
    assert "keeps a checkpoint" in cancel.help
    cancel.click().run()
    no_exception(at)
    assert get_job(job.id).cancel_requested_at is not None
    assert at.button(key=f"finetune_cancel_{job.id}").label == "Stopping…"


def test_cancelled_run_offers_resume_from_its_checkpoint(ready) -> None:
    project, ds = ready
    job = _running_job(project, ds)
    for step in (10, 15):
        (run_dir(job.id) / "checkpoints" / f"checkpoint-{step}").mkdir(parents=True)
    (run_dir(job.id) / "checkpoints" / "checkpoint-10" / "trainer_state.json").write_text("{}")  # 15 was cut short
    finish_job(job.id, JobStatus.cancelled, message="Cancelled by the operator")
    at = open_app(PAGE, project.id)
    no_exception(at)
    assert "checkpoint of step 10 was kept" in texts(at)
    resume = at.button(key=f"finetune_resume_{job.id}")
    assert "step 10" in resume.help and "curves carry on" in resume.help
    resume.click().run()
    no_exception(at)
    again = get_job(job.id)
    assert again.status == JobStatus.queued and again.attempt == 2
    assert "Queued" in texts(at)


def test_failed_run_shows_label_hint_and_resume(ready) -> None:
    project, ds = ready
    job = _running_job(project, ds)
    finish_job(
        job.id,
        JobStatus.failed,
        error_label="Out of memory",
        error_hint="Lower the maximum length or batch size.",
        error_detail="Traceback ...\nRuntimeError: out of memory",
    )
    at = open_app(PAGE, project.id)
    no_exception(at)
    shown = texts(at)
    assert "Out of memory" in shown and "Lower the maximum length" in shown
    assert "No checkpoint was kept yet" in shown
    assert at.button(key=f"finetune_resume_{job.id}").label == "Resume"
