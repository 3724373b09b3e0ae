"""Scale-out: the same jobs run as Ray tasks on a (local) Ray cluster instead of local processes."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from slmops_engine.errors import ConfigError
from slmops_engine.jobs import cancel_job, get_job, job_metrics, submit_job, wait_for_job
from slmops_engine.models import JobStatus

ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install '.[ray]'")


@pytest.fixture
def ray_supervisor(monkeypatch):
    monkeypatch.setenv("SLMOPS_EXECUTOR", "ray")
    from slmops_engine.settings import reset_settings
    from tests.support.supervisor import running_supervisor

    reset_settings()
    with running_supervisor() as sup:
        yield sup
    ray.shutdown()


def test_jobs_succeed_fail_and_cancel_on_ray(ray_supervisor):
    from slmops_engine.jobs.executors import RayExecutor

    assert isinstance(ray_supervisor.executor, RayExecutor)
    ok = submit_job("test_steps", {"steps": 4, "step_seconds": 0.01})
    done = wait_for_job(ok.id, timeout=120)
    assert done.status == JobStatus.succeeded and [p.step for p in job_metrics(ok.id)] == [1, 2, 3, 4]

    bad = submit_job("test_steps", {"steps": 3, "fail_at": 2})
    failed = wait_for_job(bad.id, timeout=120)
    assert failed.status == JobStatus.failed and failed.error_label == "Row 2 is malformed"

    slow = submit_job("test_steps", {"steps": 2000, "step_seconds": 0.02})
    deadline = time.monotonic() + 60
    while get_job(slow.id).progress == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    cancel_job(slow.id)
    assert wait_for_job(slow.id, timeout=60).status == JobStatus.cancelled


def test_remote_cluster_with_sqlite_is_refused(monkeypatch):
    from slmops_engine.jobs.executors import RayExecutor

    with pytest.raises(ConfigError, match="shared database"):
        RayExecutor(address="ray://127.0.0.1:10001")


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_a_fine_tune_and_its_conversion_run_on_ray_with_postgres(database, ray_supervisor, tmp_path, tiny_model_dir):
    """Real work through a local Ray cluster, the database on a real PostgreSQL server: each job asks Ray for what
    it needs, and a job no node can run is refused at once with what it needs and what the nodes have."""
    import json

    from slmops_engine.data import import_file
    from slmops_engine.identity import current_user
    from slmops_engine.jobs.needs import needs_of
    from slmops_engine.students import StudentChoice

    rows = [{"prompt": f"refund {i}", "response": "billing", "label": "billing"} for i in range(24)]
    rows += [{"prompt": f"password {i}", "response": "account", "label": "account"} for i in range(24)]
    (tmp_path / "routes.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    ds, _ = import_file(tmp_path / "routes.jsonl", project_id=None)
    student = StudentChoice(source="local", path=str(tiny_model_dir))
    tune = dict(dataset_id=ds.id, student=student, max_steps=4, batch_size=8, precision="fp32", eval_steps=50)
    job = submit_job("finetune", {**tune, "save_steps": 50})
    assert needs_of(job).cpus == 1 and needs_of(job).gpus == 0 and needs_of(job).memory_bytes > 0
    done = wait_for_job(job.id, timeout=300)
    assert done.status == JobStatus.succeeded, (done.error_label, done.error_hint)
    assert done.created_by == current_user() and done.result["steps"] == 4

    conv = wait_for_job(submit_job("convert", {"variant_id": done.result["variant_id"], "precision": "int4"}).id, 300)
    assert conv.status == JobStatus.succeeded, (conv.error_label, conv.error_hint)
    assert conv.result["verify_tokens"] > 0

    # QLoRA needs a GPU; this cluster's only node has none: refused at once, saying why (not queued forever).
    qlora = submit_job("finetune", {**tune, "method": "qlora"})
    refused = wait_for_job(qlora.id, timeout=60)
    assert refused.status == JobStatus.failed
    assert refused.error_label.startswith("No node of the Ray cluster can run it: it needs 1 CPU, 1 GPU and")
    assert re.search(r"; the largest node has [\d.]+ CPUs?, no GPU and", refused.error_label)
    assert "Add a node" in refused.error_hint


@pytest.fixture
def store(tmp_path, monkeypatch):
    """An object store the cluster shares (a local folder through fsspec's file:// URL)."""
    from slmops_engine.settings import reset_settings

    monkeypatch.setenv("SLMOPS_STORAGE_URL", f"file://{tmp_path / 'store'}")
    reset_settings()
    return tmp_path / "store"


def test_with_an_object_store_a_node_fetches_what_it_lacks_and_sends_back_what_it_made(
    store, ray_supervisor, slmops_home, tmp_path, tiny_model_dir
):
    import json
    import shutil

    from slmops_engine.data import import_file
    from slmops_engine.students import StudentChoice
    from tests.test_cli import slmops

    rows = [{"prompt": f"refund {i}", "response": "billing"} for i in range(16)]
    (tmp_path / "routes.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    ds, _ = import_file(tmp_path / "routes.jsonl", project_id=None)
    local = slmops_home / "datasets" / str(ds.id)
    assert {p.name for p in (store / "datasets" / str(ds.id)).iterdir()} == {p.name for p in local.iterdir()}
    shutil.rmtree(local)  # the node that runs the job does not have it: it must fetch it from the store

    student = StudentChoice(source="local", path=str(tiny_model_dir))
    cfg = dict(dataset_id=ds.id, student=student, max_steps=2, batch_size=8, precision="fp32", eval_steps=50)
    done = wait_for_job(submit_job("finetune", {**cfg, "save_steps": 50}).id, timeout=300)
    assert done.status == JobStatus.succeeded, (done.error_label, done.error_hint)
    assert local.is_dir()
    model = Path(done.result["path"])
    rel = model.relative_to(slmops_home)
    sent = {p.relative_to(store / rel) for p in (store / rel).rglob("*") if p.is_file()}
    assert sent == {p.relative_to(model) for p in model.rglob("*") if p.is_file()} and "model.safetensors" in {
        p.name for p in sent
    }
    assert (store / "runs" / str(done.id) / "metrics.jsonl").stat().st_size > 0  # the run's own record too

    shutil.rmtree(model)  # a machine that has never seen the model (the dashboard's own disk, say)
    r = slmops("storage", "pull")
    assert r.returncode == 0 and r.stdout.startswith("fetched ")
    assert (model / "model.safetensors").stat().st_size == (store / rel / "model.safetensors").stat().st_size


@pytest.fixture
def two_heavy(monkeypatch):
    from slmops_engine.settings import reset_settings

    monkeypatch.setenv("SLMOPS_MAX_HEAVY_JOBS", "2")
    reset_settings()


def test_a_search_runs_its_trials_side_by_side_on_ray(two_heavy, ray_supervisor, tmp_path, tiny_model_dir):
    import json

    from slmops_engine.data import import_file
    from slmops_engine.students import StudentChoice

    rows = [{"prompt": f"refund {i}", "response": "billing", "split": "validation" if i % 4 == 0 else "train"}
            for i in range(24)]  # fmt: skip
    (tmp_path / "routes.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    ds, _ = import_file(tmp_path / "routes.jsonl", project_id=None)
    student = StudentChoice(source="local", path=str(tiny_model_dir)).model_dump()
    base = {"max_steps": 8, "eval_steps": 4, "save_steps": 4, "batch_size": 8, "precision": "fp32"}
    cfg = {"dataset_id": ds.id, "student": student, "space": {"lora_r": [4, 8]}, "trials": 2, "base": base}
    done = wait_for_job(submit_job("sweep", {**cfg, "prune": False}).id, timeout=600)
    assert done.status == JobStatus.succeeded, (done.error_label, done.error_hint)
    first, second = (get_job(t["job_id"]) for t in done.result["trials"])
    assert second.started_at < first.finished_at  # both trials ran at once, each as its own Ray task
