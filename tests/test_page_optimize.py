"""The Optimize page through AppTest: guidance without a model, settings and preflight, GPU precisions refused on a
CPU machine, a real int4 + fp32 conversion of the tiny model with the quick check, the comparison and the
recommendation, and a failed conversion explained with Retry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slmops_engine import projects
from slmops_engine.data import import_file
from slmops_engine.db import session_scope
from slmops_engine.jobs import get_job, submit_job
from slmops_engine.jobs.rows import finish_job
from slmops_engine.jobs.worker import run_job
from slmops_engine.models import Job, JobStatus, ModelVariant
from slmops_engine.optimize.convert import conversions_of
from slmops_engine.sysinfo import system_info
from tests.test_pages import _live_navigation, _no_supervisor, no_exception, open_app, texts  # noqa: F401

PAGE = "pages/optimize.py"
cpu_only = pytest.mark.skipif(system_info().has_cuda, reason="checks what a machine without a GPU shows")


@pytest.fixture
def ready(tiny_model_dir, tmp_path):
    """A project with the tiny model as an imported base and 20 answered rows (4 of them validation)."""
    p = projects.create_project("router", "Route support messages.")
    with session_scope() as s:
        v = ModelVariant(
            project_id=p.id,
            name="tiny",
            stage="import",
            format="hf",
            artifact_path=str(tiny_model_dir),
            size_bytes=sum(f.stat().st_size for f in tiny_model_dir.glob("*.safetensors")),
        )
        s.add(v)
    rows = [
        {
            "prompt": f"{'refund the double charge' if i % 2 else 'reset my password'} please {i}",
            "response": "billing" if i % 2 else "account",
            "split": "validation" if i % 5 == 0 else "train",
        }
        for i in range(20)
    ]
    f = tmp_path / "routing.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    ds, _ = import_file(f, project_id=p.id, name="routing")
    return p, v, ds


def _convert_jobs() -> list[Job]:
    with session_scope() as s:
        return list(s.query(Job).filter(Job.kind == "convert").order_by(Job.id).all())


def test_no_model_points_to_finetune_and_models() -> None:
    p = projects.create_project("empty")
    at = open_app(PAGE, p.id)
    no_exception(at)
    assert "No model to convert yet" in texts(at)
    links = [link.proto.label for link in at.get("page_link")]
    assert "Go to Fine-tune" in links and "Go to Models" in links
    assert not [b for b in at.button if b.key == "optimize_start"]


@cpu_only
def test_settings_default_to_int4_with_the_check_and_refuse_gpu_precisions(ready) -> None:
    project, source, ds = ready
    at = open_app(PAGE, project.id)
    no_exception(at)
    k = f"opt_{project.id}"
    assert at.selectbox(key=f"{k}_source").value == source.id
    assert at.checkbox(key=f"{k}_int4").value and not at.checkbox(key=f"{k}_fp32").value
    assert at.selectbox(key=f"{k}_check").value == ds.id  # the newest data with a validation part
    assert "4 validation examples" in at.selectbox(key=f"{k}_check").options[0]
    assert at.select_slider(key=f"{k}_block").value == 32 and at.selectbox(key=f"{k}_accuracy").value == 4
    shown = texts(at)
    assert "Recommended: block size 32, symmetric, arithmetic level 4" in shown
    assert at.selectbox(key=f"{k}_{source.id}_int4_method").value == "rtn"  # trained in full precision
    assert not [i for i in at.info if "4-bit already" in i.value]
    assert "Checks passed" in shown
    assert "Takes under a minute" in shown and "(measured on a 2-core laptop)" in shown  # a tiny model, scaled
    for gpu in ("fp16", "bf16"):
        box = at.checkbox(key=f"{k}_{gpu}")
        assert box.disabled and not box.value and "Needs an NVIDIA GPU" in box.help
    assert "fp16 and bf16 are unavailable" in shown
    start = at.button(key="optimize_start")
    assert not start.disabled and start.label == "Convert to int4"

    at.checkbox(key=f"{k}_int4").uncheck().run()
    no_exception(at)
    assert "Tick at least one precision" in texts(at)
    assert at.button(key="optimize_start").disabled


def test_conversions_run_for_real_and_are_compared(ready) -> None:
    project, source, ds = ready
    k = f"opt_{project.id}"
    at = open_app(PAGE, project.id)
    at.checkbox(key=f"{k}_fp32").check()
    at.checkbox(key=f"{k}_{source.id}_compare").check()  # the int4 routes side by side
    at.number_input(key=f"{k}_rows").set_value(2).run()
    no_exception(at)
    assert at.button(key="optimize_start").label == "Convert to int4 (2 routes), fp32"
    at.button(key="optimize_start").click().run()
    no_exception(at)

    jobs = _convert_jobs()
    assert [j.config["precision"] for j in jobs] == ["int4", "int4", "fp32"]
    assert [j.config["int4_method"] for j in jobs[:2]] == ["rtn", "k_quant"]  # no grid: the model is not 4-bit
    assert jobs[1].config["int4_output_layer"] == jobs[1].config["int4_sensitive_layers"] == "int8"
    assert jobs[1].title.endswith("(k-quant, output and sensitive layers int8)")
    for job in jobs:
        assert job.project_id == project.id and job.status == JobStatus.queued
        cfg = job.config
        assert cfg["variant_id"] == source.id and cfg["check_dataset_id"] == ds.id and cfg["check_rows"] == 2
        assert cfg["execution_provider"] == "cpu" and cfg["int4_block_size"] == 32 and cfg["int4_symmetric"]
    shown = texts(at)
    assert "Started 3 conversions" in shown and "Queued" in shown
    assert at.button(key="optimize_start").disabled  # no double start while they run

    for job in jobs:
        assert run_job(job.id) == JobStatus.succeeded, get_job(job.id).error_detail
    at.run()
    no_exception(at)
    assert [v.precision for v in conversions_of(source.id)] == ["int4", "int4", "fp32"]
    shown = texts(at)
    routes = ["ONNX int4 (round to nearest)", "ONNX int4 (k-quant, output and sensitive layers int8)"]
    assert "Recommendation:" in shown and any(f"{r} keeps" in shown for r in [*routes, "ONNX fp32"])  # named
    assert "recommended for this machine" in shown or "No conversion keeps" in shown
    (chart,) = at.get("plotly_chart")
    spec = chart.proto.spec
    assert "Size on disk" in spec and "Quality kept" in spec and "Answer speed" in spec
    assert "ONNX int4" in spec and "Source (PyTorch)" in spec
    table = at.dataframe[-1].value
    assert list(table["Model"]) == ["Source (PyTorch)", *routes, "ONNX fp32"]
    assert {"Size", "Perplexity", "ROUGE-L", "Tokens/s", "First token", "Memory", "Quality kept"} <= set(table.columns)
    assert table["Quality kept"].iloc[0] == "100%" and "—" not in list(table["Quality kept"])  # each route checked
    assert not at.button(key="optimize_start").disabled  # the next conversion may start
    assert not [c for c in at.get("progress")]  # nothing left in flight


def test_failed_conversion_shows_label_hint_and_retry(ready) -> None:
    project, source, _ = ready
    job = submit_job("convert", {"variant_id": source.id, "precision": "int8"}, project_id=project.id, title="x")
    finish_job(
        job.id,
        JobStatus.failed,
        error_label="The converted model generated nothing",
        error_hint="Check the builder log; try fp32 to compare.",
        error_detail="Traceback ...\nModelLoadError",
    )
    at = open_app(PAGE, project.id)
    no_exception(at)
    shown = texts(at)
    assert "The converted model generated nothing" in shown and "try fp32 to compare" in shown
    at.button(key=f"optimize_retry_{job.id}").click().run()
    no_exception(at)
    assert get_job(job.id).status == JobStatus.queued
    assert at.button(key=f"optimize_cancel_{job.id}").label == "Cancel"


def test_base_with_adapters_offers_a_multi_adapter_conversion(ready, tmp_path) -> None:
    from tests.test_multi_adapter import make_adapter

    project, source, _ = ready
    adapters = [make_adapter(source, tmp_path / n, seed=i, name=n) for i, n in enumerate(("billing", "account"), 1)]
    k = f"opt_{project.id}"
    at = open_app(PAGE, project.id)
    at.selectbox(key=f"{k}_source").set_value(source.id).run()  # the fine-tunes come first; pick their base
    no_exception(at)
    pick = at.multiselect(key=f"{k}_{source.id}_adapters")
    assert pick.value == [] and set(pick.options) == {f"#{a.id} {a.name}" for a in adapters}
    pick.set_value([a.id for a in adapters]).run()
    no_exception(at)
    assert "plus 2 adapter files" in texts(at)
    assert not [s for s in at.selectbox if s.key == f"{k}_check"]  # the single-model check does not apply
    at.button(key="optimize_start").click().run()
    no_exception(at)
    (job,) = _convert_jobs()
    assert job.config["adapter_ids"] == [a.id for a in adapters] and job.config["check_dataset_id"] is None
    assert run_job(job.id) == JobStatus.succeeded, get_job(job.id).error_detail
    at.run()
    no_exception(at)
    assert any("2 switchable adapters" in e.label for e in at.expander)
    table = at.dataframe[-1].value
    assert list(table["Adapter"]) == [f"a{adapters[0].id}-billing", f"a{adapters[1].id}-account"]


def test_a_model_that_is_4_bit_already_is_offered_the_grid_route(ready, tmp_path) -> None:
    from tests.test_int4_grid import _snap_to_q4_1

    project, source, _ = ready
    snapped = _snap_to_q4_1(Path(source.artifact_path), tmp_path / "q")
    with session_scope() as s:
        v = s.get(ModelVariant, source.id)
        v.artifact_path = str(snapped)
        s.add(v)
    at = open_app(PAGE, project.id)
    no_exception(at)
    k = f"opt_{project.id}"
    assert [i for i in at.info if "4-bit already (100% of their blocks" in i.value]
    assert at.selectbox(key=f"{k}_{source.id}_int4_method").value == "grid"
    at.button(key="optimize_start").click().run()
    no_exception(at)
    [job] = _convert_jobs()
    assert job.config["int4_method"] == "grid"
    at.checkbox(key=f"{k}_{source.id}_compare").check().run()  # the grid route joins the routes compared
    assert at.button(key="optimize_start").label == "Convert to int4 (3 routes)"
