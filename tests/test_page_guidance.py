"""What a newcomer is led by: each step ends with the link to the next one once it is done, the Models page asks
for a choice before it shows a form (and warns about no key nobody asked for), job charts in plain names with one
axis per kind of number, and names that do not pile up."""

from __future__ import annotations

from slmops_engine import projects
from slmops_engine.db import session_scope
from slmops_engine.models import ModelVariant
from slmops_engine.students import StudentChoice
from slmops_engine.teachers import Provider, TeacherConfig
from tests.test_pages import no_exception, open_app, texts

# the autouse fixtures of the page tests (no supervisor, live navigation)
from tests.test_pages import _live_navigation, _no_supervisor  # noqa: F401  isort: skip


def _links(at) -> list[str]:
    return [e.proto.label for e in at.get("page_link")]


def _with_models(p) -> None:
    projects.set_teacher(
        p.id,
        TeacherConfig.from_preset(Provider.openai_compatible, base_url="http://127.0.0.1:9/v1", model="t"),
    )
    projects.set_student(p.id, StudentChoice(source="catalog", model_id="Qwen/Qwen2.5-0.5B-Instruct"))


def test_models_asks_for_a_choice_first_and_leads_to_data_once_both_are_chosen(monkeypatch):
    monkeypatch.delenv("AZURE_OPENAI_API_KEY", raising=False)
    p = projects.create_project("guided")
    at = open_app("pages/models.py", p.id)
    no_exception(at)
    [provider] = [w for w in at.selectbox if w.label == "Teacher type"]
    assert provider.value is None  # nothing preselected: no Azure form, no warning about its key
    assert "AZURE_OPENAI_API_KEY" not in texts(at) and not at.warning
    assert "offline demo pair" in texts(at)
    assert not any(link.startswith("Next") for link in _links(at))
    _with_models(p)
    at = open_app("pages/models.py", p.id)
    assert "Next: bring your examples on Data" in _links(at)


def test_data_distill_and_fine_tune_each_lead_to_the_next_step_once_done(tmp_path):
    from datasets import Dataset as HFDataset
    from datasets import DatasetDict

    from slmops_engine.data import import_sample
    from slmops_engine.data.store import save_dataset

    p = projects.create_project("guided")
    _with_models(p)
    assert "Next: let the teacher answer on Distill" not in _links(open_app("pages/data.py", p.id))
    sample = import_sample(p.id)
    assert "Next: let the teacher answer on Distill" in _links(open_app("pages/data.py", p.id))

    nxt = "Next: fine-tune the student on the reviewed answers"
    assert nxt not in _links(open_app("pages/distill.py", p.id))
    rows = {"prompt": ["Where is my parcel?"], "response": ["shipping"]}
    save_dataset(
        DatasetDict(train=HFDataset.from_dict(rows)),
        project_id=p.id,
        name="answers (reviewed)",
        stage="review",
        info={},
        parent_id=sample.id,
    )
    assert nxt in _links(open_app("pages/distill.py", p.id))

    nxt = "Next: make it small and fast on Optimize"
    assert nxt not in _links(open_app("pages/finetune.py", p.id))
    with session_scope() as s:
        s.add(ModelVariant(name="tuned", stage="finetune", format="hf", artifact_path=str(tmp_path), project_id=p.id))
    assert nxt in _links(open_app("pages/finetune.py", p.id))


def test_job_charts_put_each_kind_of_number_on_its_own_axis_in_plain_names():
    from types import SimpleNamespace as Point

    from slmops_ui.job_charts import kind_name, metric_frame, metrics_figure

    assert (kind_name("synth"), kind_name("finetune"), kind_name("prepare_model")) == (
        "teacher run",
        "fine-tune",
        "model preparation",
    )
    points = [Point(name="loss", step=s, value=2 / s) for s in range(1, 6)]
    points += [Point(name="eval_loss", step=s, value=2.1 / s) for s in (1, 5)]
    points += [Point(name="tokens_per_s", step=s, value=100 + s) for s in range(1, 6)]
    points += [Point(name="ram_gb", step=5, value=2.8)]  # one point: no line to draw
    df = metric_frame(points)
    assert set(df["metric"]) == {"training loss", "validation loss", "tokens per second"}
    fig = metrics_figure(points, "finetune")
    panels = [a.text for a in fig.layout.annotations]
    assert sorted(panels) == ["Loss", "Speed (tokens/s)"]  # the losses together, the speed apart
    assert all(axis.matches is None for axis in (fig.layout.yaxis, fig.layout.yaxis2))  # each its own scale
    assert fig.layout.xaxis.title.text == "training step"
    assert metrics_figure([Point(name="answered", step=0, value=0.0)], "synth") is None  # a cancelled run: none


def test_a_second_review_is_numbered_not_repeated():
    from slmops_engine.synth.review import reviewed_name

    assert reviewed_name("answers") == "answers (reviewed)"
    assert reviewed_name("answers (reviewed)") == "answers (reviewed 2)"
    assert reviewed_name("answers (reviewed 2)") == "answers (reviewed 3)"


def test_a_validation_loss_on_a_handful_of_examples_says_it_is_too_few_to_judge():
    from slmops_engine.finetune.views import too_few_to_judge

    assert too_few_to_judge({"eval_rows": 2}) == " (measured on 2 examples: too few to judge)"
    assert too_few_to_judge({"eval_rows": 24}) == too_few_to_judge({}) == ""


def test_model_ids_are_short_and_say_what_the_model_is():
    from slmops_engine.serving.placement import model_name

    long = "Brightwave support routing (sample) · fine-tuned · ONNX int4 (block offsets kept, likely output rows int8)"
    assert model_name(12, long) == "v12-brightwave-support-int4"  # not cut mid-word, the precision kept
    assert model_name(3, "tiny llama · ONNX int8") == "v3-tiny-llama-int8"
    assert model_name(4, "···") == "v4-model"


def test_automatic_names_stay_short_however_long_the_chain():
    from slmops_engine.naming import answers_name, clip, conversion_name, finetune_name

    answered = answers_name("Brightwave support routing (sample)", "local teacher")
    assert answered == "Brightwave support routing · answers by local teacher"
    reviewed = f"{answered} (reviewed 2)"  # a reviewed copy, as the Review tab names it
    tuned = finetune_name("SmolLM2-135M-Instruct (bundled)", "lora", reviewed)
    assert tuned == "SmolLM2-135M-Instruct · lora · Brightwave support routing"
    assert conversion_name(tuned, "int4") == f"{tuned} · ONNX int4"
    assert conversion_name("tiny", "int4", adapters=2) == "tiny · ONNX int4 · 2 adapters"
    # Whatever the parts, each is cut at a word with an ellipsis.
    assert clip("A very long name of a dataset that goes on and on") == "A very long name of a dataset…"
    assert len(finetune_name("m" * 80, "full", "d " * 60)) <= 32 + len(" · full · ") + 28


def test_the_jobs_page_filters_by_who_made_them():
    from slmops_engine.identity import acting_as
    from slmops_engine.jobs import submit_job

    p = projects.create_project("shared")
    with acting_as("ada"):
        mine = submit_job("test_steps", {"steps": 1}, project_id=p.id, title="Ada's run")
    with acting_as("bo"):
        submit_job("test_steps", {"steps": 1}, project_id=p.id, title="Bo's run")
    at = open_app("pages/jobs.py", p.id)
    no_exception(at)
    who = at.selectbox(key="jobs_made_by")
    assert who.options == ["Everyone", "ada", "bo"]
    assert "Ada's run" in texts(at) and "Bo's run" in texts(at) and "by ada" in texts(at)
    who.set_value("ada").run()
    no_exception(at)
    assert f"#{mine.id} · Ada's run" in texts(at.main) and "Bo's run" not in texts(at.main)
