"""Two processes writing the SQLite database at once: WAL + busy timeout, no 'database is locked'."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlmodel import func, select

from slmops_engine.db import session_scope
from slmops_engine.jobs import submit_job
from slmops_engine.models import Job, MetricPoint

pytestmark = pytest.mark.usefixtures("database")  # every test here runs on SQLite and on PostgreSQL

WRITER = """
import sys
from slmops_engine.db import session_scope
from slmops_engine.jobs.rows import set_job_fields, upsert_metrics
job_id, offset = int(sys.argv[1]), int(sys.argv[2])
for i in range(150):
    upsert_metrics(job_id, [{"name": f"m{offset}", "step": i, "value": float(i)}])
    set_job_fields(job_id, progress=i / 150, message=f"writer {offset} at {i}")
print("ok")
"""


def test_two_processes_write_at_once(slmops_home, database):
    job = submit_job("test_steps", {"steps": 1})
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(job.id), str(k)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in range(2)
    ]
    # This process writes too, like the dashboard does while workers run.
    for i in range(100):
        with session_scope() as s:
            j = s.get(Job, job.id)
            j.title = f"ui edit {i}"
            s.add(j)
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
        assert out.strip() == "ok"
    with session_scope() as s:
        n = s.exec(select(func.count()).select_from(MetricPoint).where(MetricPoint.job_id == job.id)).one()
        if database == "sqlite":
            assert s.connection().exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    assert n == 300


def test_metric_points_are_deduplicated_on_job_name_step(slmops_home):
    from slmops_engine.jobs import job_metrics
    from slmops_engine.jobs.rows import upsert_metrics

    job = submit_job("test_steps", {"steps": 1})
    upsert_metrics(job.id, [{"name": "loss", "step": 1, "value": 2.0}, {"name": "loss", "step": 2, "value": 1.5}])
    upsert_metrics(job.id, [{"name": "loss", "step": 2, "value": 1.4}])  # a resumed run re-logs step 2
    assert [(p.step, p.value) for p in job_metrics(job.id)] == [(1, 2.0), (2, 1.4)]
    # The same point twice in one batch (the trainer logs its last step twice): the last value, on both databases.
    upsert_metrics(job.id, [{"name": "loss", "step": 3, "value": 1.2}, {"name": "loss", "step": 3, "value": 1.1}])
    assert [(p.step, p.value) for p in job_metrics(job.id)][-1] == (3, 1.1)
