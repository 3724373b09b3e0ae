"""A pipeline file runs the lifecycle's stages as ordinary jobs (teacher on 127.0.0.1, the tiny model trained,
converted and evaluated for real); a failed stage stops the chain and a retry resumes there; the file a run is
made from is written back exactly."""

from __future__ import annotations

import json
import time

import pytest

from slmops_engine.jobs import list_jobs, retry_job, submit_job, wait_for_job
from slmops_engine.models import JobStatus
from slmops_engine.pipeline.rest import rest_pipeline
from slmops_engine.pipeline.spec import PipelineConfig, dump, load
from slmops_engine.synth.review import ReviewDecisions, save_review
from tests.support.evaluation import project_with_teacher, route_or_judge, routing_dataset
from tests.support.openai_server import Behaviour, OpenAIServer


def _chain(project_id: int, dataset_id: int, teacher_url: str, model_dir, out) -> dict:
    teacher = {"provider": "openai_compatible", "base_url": teacher_url, "model": "teacher-model"}
    return {
        "name": "tiny chain",
        "project_id": project_id,
        "out": str(out),
        "steps": [
            {
                "name": "distil",
                "kind": "synth",
                "config": {
                    "dataset_id": dataset_id,
                    "teacher": teacher,
                    "splits": ["train"],
                    "max_retries": 0,
                    "project_id": project_id,
                },
            },
            {"name": "keep", "kind": "review", "config": {"dataset_id": "${distil.dataset_id}"}},
            {
                "name": "finetune",
                "kind": "finetune",
                "config": {
                    "dataset_id": "${keep.dataset_id}",
                    "student": {"source": "local", "path": str(model_dir)},
                    "max_steps": 4,
                    "batch_size": 4,
                    "precision": "fp32",
                    "project_id": project_id,
                },
            },
            {"name": "int4", "kind": "convert", "config": {"variant_id": "${finetune.variant_id}"}},
            {
                "name": "evaluate",
                "kind": "evaluate",
                "config": {
                    "variants": ["teacher", "${finetune.variant_id}", "${int4.variant_id}"],
                    "dataset_id": "${keep.dataset_id}",
                    "project_id": project_id,
                },
            },
        ],
    }


def _monitor_shows_the_chain_alone(chain_id: int, timeout: float = 300) -> set[int]:
    """Watch the sidebar's list while the chain runs: the chain is in it, its running steps are not."""
    from slmops_engine.jobs import get_job
    from slmops_engine.overview import active_jobs, monitored_jobs
    from slmops_engine.pipeline.state import step_jobs

    seen: set[int] = set()
    end = time.monotonic() + timeout
    while time.monotonic() < end and not get_job(chain_id).status.finished:
        active, shown = {j.id for j in active_jobs()}, {j.id for j in monitored_jobs()}
        steps = active & set(step_jobs(chain_id))
        if steps and chain_id in active:
            assert not steps & shown and (chain_id in shown or get_job(chain_id).status.finished)
            seen |= steps
        time.sleep(0.3)
    return seen


def test_a_pipeline_file_runs_resumes_after_a_failed_stage_and_writes_back(
    supervisor, tiny_model_dir, tmp_path
) -> None:
    with OpenAIServer(answer=route_or_judge) as srv:
        p = project_with_teacher(srv.url)
        ds = routing_dataset(tmp_path, p.id)
        spec_file = tmp_path / "chain.yaml"
        spec_file.write_text(
            dump(PipelineConfig.model_validate(_chain(p.id, ds.id, srv.url, tiny_model_dir, tmp_path / "results.json")))
        )
        cfg = load(spec_file)
        assert dump(cfg) == spec_file.read_text()  # the file a run is made from is written back exactly
        rest = rest_pipeline(p.id, save=False)  # nothing done yet: the whole chain, on the operator's data
        assert [s.name for s in rest.steps] == ["distil", "keep", "finetune", "int4", "evaluate", "deploy"]
        assert (
            rest.steps[0].config["dataset_id"] == ds.id and rest.steps[0].config["teacher"]["model"] == "teacher-model"
        )

        srv.behaviour = Behaviour(status=500)  # the teacher is down: the first stage fails
        job = submit_job("pipeline", cfg, project_id=p.id)
        failed = wait_for_job(job.id, timeout=120)
        assert failed.status == JobStatus.failed and "Step 'distil' failed" in failed.error_label
        assert "Retry the pipeline" in failed.error_hint
        (distil,) = [j for j in list_jobs(p.id) if j.kind == "synth"]

        srv.behaviour = Behaviour()  # back up: the retry resumes at the failed stage (the same job, retried)
        retry_job(job.id)
        steps_seen = _monitor_shows_the_chain_alone(job.id)
        done = wait_for_job(job.id, timeout=300)
        assert steps_seen  # a step ran while the chain was watched, and never showed as a run of its own
        assert done.status == JobStatus.succeeded, done.error_label
    steps = done.result["steps"]
    assert steps["distil"] == distil.id and all(steps[s] for s in ("finetune", "int4", "evaluate"))
    kinds = sorted(j.kind for j in list_jobs(p.id) if j.kind != "pipeline")
    assert kinds == ["convert", "evaluate", "finetune", "synth"]  # each stage ran once, as its own job
    ev = json.loads((tmp_path / "results.json").read_text())
    assert [v["id"] for v in ev["variants"]][0] == "teacher"
    assert ev["variants"][0]["metrics"]["label_accuracy"] == 1.0
    assert {v["kind"] for v in ev["variants"]} == {"teacher", "finetune", "onnx"}
    # Run the rest: the answers, fine-tune and int4 model exist, so only evaluation and deployment are left.
    rest = rest_pipeline(p.id, save=False)
    assert [s.name for s in rest.steps] == ["evaluate", "deploy"]
    tuned, small = done.result["results"]["finetune"], done.result["results"]["int4"]
    assert rest.steps[0].config["variants"] == [
        "teacher",
        str(tuned["base_variant_id"]),
        str(tuned["variant_id"]),
        str(small["variant_id"]),
    ]
    keep = done.result["results"]["keep"]
    assert rest.steps[0].config["dataset_id"] == keep["dataset_id"] and keep["rows"] > 0 and keep["dropped"] == 0
    # Answers reviewed since: the chain trains on them again (keep is done by the review).
    reviewed = save_review(rest.steps[0].config["dataset_id"], ReviewDecisions())
    rest = rest_pipeline(p.id, save=False)
    assert [s.name for s in rest.steps] == ["finetune", "int4", "evaluate", "deploy"]
    assert rest.steps[0].config["dataset_id"] == reviewed.id


def test_a_step_that_refers_forward_or_an_unknown_kind_is_refused(tmp_path) -> None:
    bad = {
        "steps": [
            {"name": "a", "kind": "convert", "config": {"variant_id": "${b.variant_id}"}},
            {"name": "b", "kind": "finetune"},
        ]
    }
    with pytest.raises(ValueError, match="refers to 'b', which does not run before it"):
        PipelineConfig.model_validate(bad)
    with pytest.raises(ValueError, match="unknown stage kind"):
        PipelineConfig.model_validate({"steps": [{"name": "a", "kind": "train-harder"}]})
    f = tmp_path / "broken.yaml"
    f.write_text("steps: [unclosed")
    from slmops_engine.errors import ConfigError

    with pytest.raises(ConfigError, match="Cannot read the pipeline file"):
        load(f)
