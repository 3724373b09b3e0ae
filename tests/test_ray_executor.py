"""Scale-out: the same jobs run as Ray tasks on a (local) Ray cluster instead of local processes."""

from __future__ import annotations

import time

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
