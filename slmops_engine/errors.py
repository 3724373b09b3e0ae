"""Typed errors that speak to the operator: a short label plus a hint that says what to do."""

from __future__ import annotations


class SlmopsError(Exception):
    """Base error: ``message`` is the short label, ``hint`` what the operator can do about it."""

    label = "Error"

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} — {self.hint}" if self.hint else self.message


class ConfigError(SlmopsError):
    label = "Invalid settings"


class DataError(SlmopsError):
    label = "Data problem"


class EndpointError(SlmopsError):
    label = "Endpoint problem"


class ModelLoadError(SlmopsError):
    label = "Model could not be loaded"


class HubUnreachableError(ModelLoadError):
    label = "Model hub unreachable"


class ResourceError(SlmopsError):
    label = "Not enough resources"


class NotFoundError(SlmopsError):
    label = "Not found"


class JobCancelled(BaseException):  # noqa: N818 - a control-flow signal, not an error shown as a failure
    """Raised inside a job when the operator asked it to stop (also from the SIGTERM handler, at any line).

    A BaseException, like KeyboardInterrupt: libraries that catch or wrap Exception (SQLAlchemy wraps anything
    raised during a statement) must let it through, or a cancel would end as an 'unexpected error'."""


class JobStopped(JobCancelled):
    """The job stopped itself early on purpose (a search's pruner judged its trial clearly worse): it ends
    cancelled like an operator's stop, with its own message and a result that says why."""

    def __init__(self, message: str, result: dict) -> None:
        super().__init__(message)
        self.message = message
        self.result = result


def describe_exception(exc: BaseException) -> tuple[str, str]:
    """Map any exception to (label, hint) for the operator; never returns an empty label."""
    if isinstance(exc, SlmopsError):
        return exc.message, exc.hint
    name = type(exc).__name__
    if isinstance(exc, MemoryError) or name == "OutOfMemoryError" or "out of memory" in str(exc).lower():
        return (
            "Out of memory",
            "Lower the batch size or the maximum sequence length, choose a smaller model, or close other programs.",
        )
    if name == "OperationalError" and "unable to open database" in str(exc):
        return "Cannot open the database", "Check SLMOPS_DATABASE_URL and SLMOPS_HOME point to a writable place."
    if isinstance(exc, OSError) and getattr(exc, "errno", None) == 28:
        return "Disk full", "Free disk space (old runs under storage/runs can be deleted) and retry."
    if isinstance(exc, PermissionError):
        return f"Permission denied: {exc.filename or exc}", "Check that the storage folder is writable."
    if isinstance(exc, FileNotFoundError):
        return f"File not found: {exc.filename or exc}", "Check the path; it may have been moved or deleted."
    return f"Unexpected error ({name}): {exc}", "See the job log for details; retry, and report it if it repeats."
