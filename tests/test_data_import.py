"""Data import: every bad-input class is rejected or reported with line numbers, nothing partial is stored."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from slmops_engine.data import (
    ColumnMapping,
    get_dataset,
    import_file,
    inspect_file,
    list_datasets,
    load_dataset_dict,
    validate,
)
from slmops_engine.errors import DataError
from slmops_engine.settings import get_settings


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def stored_nothing() -> bool:
    datasets_dir = get_settings().datasets_dir
    leftovers = list((get_settings().home / "tmp").glob("*"))
    return list_datasets() == [] and not any(datasets_dir.iterdir()) and leftovers == []


@pytest.mark.usefixtures("database")  # on SQLite and on PostgreSQL
def test_good_jsonl_is_stored_with_lineage_fields(tmp_path):
    f = write_jsonl(tmp_path / "d.jsonl", [{"prompt": f"question {i}", "response": f"answer {i}"} for i in range(5)])
    ds, report = import_file(f, project_id=None)
    assert report.valid_rows == 5 and report.n_rejected == 0
    assert ds.n_rows == 5 and ds.stage == "upload" and ds.info["shape"] == "prompt_response"
    rows = load_dataset_dict(ds.id)["train"]
    assert rows[0]["prompt"] == "question 0" and rows[0]["response"] == "answer 0" and rows[0]["line"] == 1


def test_malformed_json_lines_are_reported_by_line(tmp_path):
    f = write_jsonl(
        tmp_path / "d.jsonl",
        [{"prompt": "a", "response": "b"}, "{not json", '["a list"]', {"prompt": "c", "response": "d"}],
    )
    report = validate(inspect_file(f))
    assert report.valid_rows == 2
    assert [(r.line, r.reason.split(" (")[0]) for r in report.rejected] == [
        (2, "malformed JSON"),
        (3, "expected a JSON object, found list"),
    ]
    report.discard()
    with pytest.raises(DataError, match="2 of 4 rows have problems"):
        import_file(f, project_id=None)
    assert stored_nothing()
    ds, _ = import_file(f, project_id=None, accept_partial=True)
    assert ds.n_rows == 2 and ds.info["rejected"] == 2


def test_non_utf8_rows_are_reported(tmp_path):
    f = tmp_path / "d.jsonl"
    f.write_bytes(b'{"prompt": "ok one"}\n' + '{"prompt": "caf\u00e9"}'.encode("latin-1") + b'\n{"prompt": "ok two"}\n')
    report = validate(inspect_file(f))
    assert report.valid_rows == 2
    assert report.rejected[0].line == 2 and "not UTF-8" in report.rejected[0].reason


def test_non_utf8_csv_is_refused_whole(tmp_path):
    f = tmp_path / "d.csv"
    f.write_bytes("prompt,response\ncaf\u00e9 au lait,yes\n".encode("cp1252"))
    with pytest.raises(DataError, match="not UTF-8"):
        import_file(f, project_id=None)
    assert stored_nothing()


def test_empty_prompt_missing_column_and_duplicate(tmp_path):
    f = write_jsonl(
        tmp_path / "d.jsonl",
        [
            {"prompt": "hello there", "response": "hi"},
            {"prompt": "   ", "response": "x"},
            {"question": "wrong key", "response": "x"},
            {"prompt": "Hello   there", "response": "HI"},  # same after case and whitespace folding
            {"prompt": "other", "response": ""},
        ],
    )
    report = validate(inspect_file(f))
    reasons = {r.line: r.reason for r in report.rejected}
    assert reasons == {2: "empty prompt", 3: "missing column 'prompt'", 4: "duplicate of line 1", 5: "empty response"}
    assert report.valid_rows == 1


def test_rows_longer_than_max_length_counted_with_student_tokenizer(tmp_path, tiny_model_dir):
    long = " ".join(["refund"] * 200)
    f = write_jsonl(
        tmp_path / "d.jsonl", [{"prompt": "short question", "response": "ok"}, {"prompt": long, "response": "ok"}]
    )
    report = validate(inspect_file(f), tokenizer_path=tiny_model_dir, max_length=64)
    assert report.valid_rows == 1
    assert report.rejected[0].line == 2 and "over the student's max length 64" in report.rejected[0].reason
    n = int(report.rejected[0].reason.split(": ")[1].split()[0])
    assert n > 200  # counted in tokens (with template overhead), not characters


def test_binary_file_is_refused(tmp_path):
    f = tmp_path / "d.jsonl"
    f.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    with pytest.raises(DataError, match="looks binary"):
        import_file(f, project_id=None)
    assert stored_nothing()


def test_file_over_size_limit_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("SLMOPS_UPLOAD_LIMIT_MB", "1")
    from slmops_engine.settings import reset_settings

    reset_settings()
    f = write_jsonl(tmp_path / "d.jsonl", [{"prompt": "x" * 1000 + str(i)} for i in range(1100)])
    with pytest.raises(DataError, match="over the 1 MB limit"):
        import_file(f, project_id=None)
    assert stored_nothing()


def test_csv_formula_injection_is_rejected_and_neutralised_in_the_report(tmp_path):
    f = tmp_path / "d.csv"
    with open(f, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["prompt", "response"])
        w.writerow(["How do I pay?", "By card"])
        w.writerow(['=HYPERLINK("http://x","click")', "ok"])
        w.writerow(["refund -5 EUR please", "-5 is fine"])
        w.writerow(["@SUM(A1:A2)", "ok"])
    report = validate(inspect_file(f))
    assert [r.line for r in report.rejected] == [3, 5]
    assert "formula injection" in report.rejected[0].reason
    rows = list(csv.reader(io.StringIO(report.rejected_csv().decode())))
    assert rows[0] == ["line", "reason", "content"] and all(not r[2].startswith(("=", "@")) for r in rows[1:])


def test_unsupported_and_empty_files(tmp_path):
    (tmp_path / "d.xlsx").write_bytes(b"PK\x03\x04")
    with pytest.raises(DataError, match="Unsupported file type"):
        inspect_file(tmp_path / "d.xlsx")
    (tmp_path / "e.jsonl").write_text("")
    with pytest.raises(DataError, match="empty"):
        inspect_file(tmp_path / "e.jsonl")
    (tmp_path / "bad.json").write_text('[{"prompt": "a"},')
    with pytest.raises(DataError, match="malformed at line 1"):
        import_file(tmp_path / "bad.json", project_id=None)
    assert stored_nothing()


@pytest.mark.usefixtures("database")  # on SQLite and on PostgreSQL
def test_all_rows_bad_stores_nothing(tmp_path):
    f = write_jsonl(tmp_path / "d.jsonl", ["nope", "{also nope"])
    with pytest.raises(DataError, match="No readable rows"):
        import_file(f, project_id=None, accept_partial=True)
    assert stored_nothing()


def test_explicit_mapping_for_ambiguous_columns(tmp_path):
    f = write_jsonl(tmp_path / "d.jsonl", [{"body": "my order is late", "category": "shipping"}])
    guess = inspect_file(f).guess
    assert guess.ambiguous  # one free-text column and a label: the operator confirms
    with pytest.raises(DataError, match="ambiguous"):
        import_file(f, project_id=None)
    mapping = ColumnMapping(shape="prompt_response", prompt="body", response="category", label="category")
    ds, _ = import_file(f, project_id=None, mapping=mapping)
    assert get_dataset(ds.id).info["labels"] == {"shipping": 1}
    with pytest.raises(DataError, match="Missing column"):
        import_file(f, project_id=None, mapping=ColumnMapping(shape="prompts", prompt="text"))


def test_hundred_thousand_rows_stream_in(tmp_path):
    f = tmp_path / "big.jsonl"
    with open(f, "w", encoding="utf-8") as fh:
        for i in range(100_000):
            fh.write(
                json.dumps({"prompt": f"how do I reset device {i}?", "response": f"Hold the button {i % 7}s."}) + "\n"
            )
    ds, report = import_file(f, project_id=None)
    assert report.valid_rows == ds.n_rows == 100_000
    part = load_dataset_dict(ds.id)["train"]
    assert part[99_999]["prompt"] == "how do I reset device 99999?"
    assert part.cache_files  # memory-mapped from disk, not held in memory
