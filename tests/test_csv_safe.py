"""Formula injection: one rule (OWASP's) for every CSV the app writes; the data it imports is never altered."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from slmops_engine.csv_safe import csv_bytes, safe_cell

ROOT = Path(__file__).resolve().parents[1]
PAYLOADS = [
    '=HYPERLINK("http://evil.example","click")',
    "-1+1+cmd|' /C calc'!A0",
    "+44 20 7946 0958 called twice about a refund",
    "@SUM(A1:A2)",
    "-5 degrees and the heater is off",
    "\t=1+1",
    "\r=1+1",
]


def test_formula_looking_cells_get_a_leading_quote_and_nothing_else_changes():
    assert [safe_cell(p) for p in PAYLOADS] == ["'" + p for p in PAYLOADS]
    assert [safe_cell(v) for v in ("How do I pay?", "", " =not first", 42, -5, None)] == [
        "How do I pay?",
        "",
        " =not first",
        42,
        -5,
        None,
    ]


def test_csv_bytes_neutralises_every_cell_and_reads_back_as_text():
    data = csv_bytes(["line", "=header"], [[7, p] for p in PAYLOADS])
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert rows[0] == ["line", "'=header"]
    assert [r[1] for r in rows[1:]] == ["'" + p for p in PAYLOADS] and rows[1][0] == "7"


def test_every_csv_the_app_writes_goes_through_the_shared_rule():
    # Writers build their CSV with csv_safe.csv_bytes; a new csv.writer, DictWriter or DataFrame.to_csv elsewhere
    # fails here unless listed with the reason it needs no neutralising.
    allowed = {
        "slmops_engine/csv_safe.py": "the shared rule itself",
        "slmops_engine/data/readers.py": "rebuilds a bad input row as one string, shown and written via csv_safe",
    }
    writer = re.compile(r"csv\.writer\(|DictWriter\(|\.to_csv\(")
    sources = [ROOT / "app.py"] + [p for d in ("slmops_engine", "slmops_ui", "pages") for p in (ROOT / d).rglob("*.py")]
    writers = {str(p.relative_to(ROOT)) for p in sources if writer.search(p.read_text(encoding="utf-8"))}
    assert writers - set(allowed) == set()
