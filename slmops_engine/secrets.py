"""Keys never shown: every known secret value is blanked out of error texts and log lines before they are written
or printed. An endpoint that echoes the key back in its error ("Incorrect API key provided: sk-…") would otherwise
put it in the job's stored error, its log and the command line's output."""

from __future__ import annotations

import logging
import os
import re

SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?)$", re.IGNORECASE)
MIN_LENGTH = 8  # shorter values ("1", "true") are not secrets and would blank ordinary words
MASK = "***"


def key_names(config: dict | None) -> tuple[str, ...]:
    """The key variables a job's settings name (its teacher's), whose values are never written."""
    teacher = (config or {}).get("teacher") or {}
    return tuple(n for n in (teacher.get("api_key_env"),) if n)


def known_secrets(names: tuple[str, ...] = ()) -> list[str]:
    """The values of this process's secret-looking variables and of ``names`` (environment or OS keyring),
    longest first."""
    from .keystore import get_key

    values = {v for k, v in os.environ.items() if SECRET_NAME.search(k) and v}
    for name in names:
        values |= {v for v in (os.environ.get(name), get_key(name)) if v}
    return sorted((v for v in values if len(v) >= MIN_LENGTH), key=len, reverse=True)


def redact(text: str | None, names: tuple[str, ...] = ()) -> str | None:
    """``text`` with every known secret replaced by ***."""
    return _mask(text, known_secrets(names)) if text else text


def _mask(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text


class RedactingFilter(logging.Filter):
    """Blanks known secrets out of log records before any handler writes them. The secrets are worked out once,
    when the filter is put on (a process's keys do not change while it runs a job): no environment scan or keyring
    call per log line."""

    def __init__(self, names: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.secrets = known_secrets(names)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = _mask(message, self.secrets)
        if clean != message:
            record.msg, record.args = clean, ()
        if record.exc_info and record.exc_text is None and record.exc_info[1] is not None:
            record.exc_text = _mask(logging.Formatter().formatException(record.exc_info), self.secrets)
        return True


def redact_logs(names: tuple[str, ...] = ()) -> None:
    """Put the filter on every handler of the root logger (the worker's log, the command line's stderr)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter(names))
