"""CSV files the app writes for people to open in a spreadsheet, safe against formula injection.

Imported data is never altered: "+44 20 7946 0958 called…" or "@support my parcel…" is ordinary training text.
Only when a cell leaves the app as CSV does it get OWASP's neutralisation (a leading ' on cells that start with
= + - @ tab or carriage return), so Excel or LibreOffice shows it as text instead of running it. Every CSV writer
uses ``csv_bytes``; a test fails if a new one does not."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """The value a spreadsheet will show as text: strings that could start a formula get a leading quote."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """UTF-8 CSV of ``rows`` under ``header``, every cell neutralised."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([safe_cell(c) for c in header])
    w.writerows([safe_cell(c) for c in row] for row in rows)
    return buf.getvalue().encode("utf-8")
