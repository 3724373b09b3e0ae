"""Plain-language formatting: sizes, durations, times, memory-fit markers and job status labels."""

from __future__ import annotations

from datetime import datetime, timezone

from slmops_engine.catalog import Fit
from slmops_engine.models import JobStatus, as_utc
from slmops_engine.sysinfo import human_bytes, human_duration

__all__ = [
    "FIT_CSS",
    "FIT_MARK",
    "STATUS_STYLE",
    "ago",
    "compact_duration",
    "fit_cell",
    "fit_legend",
    "human_bytes",
    "human_duration",
]

# Symbols as well as colours: the table stays readable without colour vision or an emoji font.
FIT_MARK: dict[str, str] = {"green": "✓", "amber": "!", "red": "✗"}
FIT_CSS: dict[str, str] = {
    "green": "background-color: #dcfce7; color: #14532d",
    "amber": "background-color: #fef3c7; color: #78350f",
    "red": "background-color: #fee2e2; color: #7f1d1d",
}

# label, badge colour, icon
STATUS_STYLE: dict[JobStatus, tuple[str, str, str]] = {
    JobStatus.queued: ("Queued", "gray", ":material/schedule:"),
    JobStatus.running: ("Running", "blue", ":material/progress_activity:"),
    JobStatus.succeeded: ("Succeeded", "green", ":material/check_circle:"),
    JobStatus.failed: ("Failed", "red", ":material/error:"),
    JobStatus.cancelled: ("Cancelled", "orange", ":material/cancel:"),
}


def fit_cell(fit: Fit, n_bytes: int) -> str:
    """'✓ 4.9 GB': the memory a use needs, marked by how it fits this machine."""
    return f"{FIT_MARK[fit]} {human_bytes(n_bytes)}"


def fit_legend() -> str:
    return ":green[✓ fits comfortably] · :orange[! tight — close other programs] · :red[✗ will not fit]"


def compact_duration(seconds: float | None) -> str:
    """human_duration for a narrow figure: '45 s', '3m 20s', '2h 05m'."""
    return human_duration(seconds, compact=True)


def ago(dt: datetime | None, now: datetime | None = None) -> str:
    """'just now', '5 min ago', '3 h ago', '2 days ago'."""
    if dt is None:
        return ""
    secs = ((now or datetime.now(timezone.utc)) - as_utc(dt)).total_seconds()
    if secs < 45:
        return "just now"
    if secs < 3600:
        return f"{round(secs / 60)} min ago"
    if secs < 86400:
        return f"{round(secs / 3600)} h ago"
    return f"{round(secs / 86400)} days ago"


def elapsed(start: datetime | None, end: datetime | None = None) -> float | None:
    """Seconds from start to end (or now)."""
    if start is None:
        return None
    return ((as_utc(end) if end else datetime.now(timezone.utc)) - as_utc(start)).total_seconds()
