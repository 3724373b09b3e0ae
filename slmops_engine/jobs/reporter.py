"""The worker's reporter: progress, metrics and heartbeats go to the database (throttled), metrics also to
runs/<job_id>/metrics.jsonl; the operator's Cancel is noticed on the next progress call."""

from __future__ import annotations

import time

from sqlmodel import select

from ..db import session_scope
from ..models import Job, utcnow
from ..stage_api import Reporter
from .rows import set_job_fields, upsert_metrics


class JobReporter(Reporter):
    def __init__(self, job_id: int, *, flush_every: float = 0.5, **kw) -> None:
        from .rows import run_dir

        super().__init__(run_dir(job_id), **kw)
        self.job_id = job_id
        self.flush_every = flush_every
        self._last_flush = 0.0
        self._pending_metrics: list[dict] = []
        self._cancel_seen = False
        self._eta: float | None = None

    def _on_progress(self, eta_seconds: float | None) -> None:
        self._eta = eta_seconds if eta_seconds is not None else self.eta()
        self._maybe_flush()

    def _on_metric(self, point: dict) -> None:
        self._pending_metrics.append(point)
        self._maybe_flush()

    def _cancel_requested(self) -> bool:
        return self._cancel_seen

    def _maybe_flush(self) -> None:
        if time.monotonic() - self._last_flush >= self.flush_every:
            self.flush()

    def flush(self) -> None:
        self._last_flush = time.monotonic()
        points, self._pending_metrics = self._pending_metrics, []
        upsert_metrics(self.job_id, points)
        set_job_fields(
            self.job_id,
            progress=self.progress_value,
            message=self.message[:500],
            eta_seconds=self._eta,
            heartbeat_at=utcnow(),
        )
        with session_scope() as s:
            requested = s.exec(select(Job.cancel_requested_at).where(Job.id == self.job_id)).first()
        self._cancel_seen = requested is not None
