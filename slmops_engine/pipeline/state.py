"""A chain's state, kept in its run folder so that a retry resumes it: the jobs started for its steps and their
results. The pipeline stage writes it; the overview reads which jobs are a chain's steps."""

from __future__ import annotations

import json

STATE_FILE = "pipeline.json"


def step_jobs(job_id: int) -> list[int]:
    """The jobs a chain has started for its steps so far (from its state file; empty before the first)."""
    from ..jobs.rows import run_dir

    try:
        return [int(i) for i in json.loads((run_dir(job_id) / STATE_FILE).read_text())["jobs"].values()]
    except (OSError, ValueError, KeyError, TypeError):
        return []
