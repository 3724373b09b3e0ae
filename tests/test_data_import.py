"""Data import: every bad-input class is rejected or reported with line numbers, nothing partial is stored."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from slmops_engine.data import (
    ColumnMapping,
    export_jsonl,
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


# Ordinary support messages that a spreadsheet would take for formulas, and real injection payloads: all are text.
FORMULA_LIKE = [
    "+44 20 7946 0958 called twice about a refund",
    "@support my parcel never came",
    "-5 degrees and the heater is off",
    '=HYPERLINK("http://evil.example","click")',
    "-1+1+cmd|' /C calc'!A0",
    "\tthe app shows a blank screen",
    "\rmy card was charged twice",
]


def _write_formula_like(path: Path) -> list[dict]:
    rows = [{"prompt": t, "response": FORMULA_LIKE[i - 1]} for i, t in enumerate(FORMULA_LIKE)]
    if path.suffix == ".jsonl":
        write_jsonl(path, rows)
    else:
        with open(path, "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, ["prompt", "response"], delimiter="\t" if path.suffix == ".tsv" else ",")
            w.writeheader()
            w.writerows(rows)
    return rows


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl"])
def test_rows_that_look_like_formulas_are_imported_unchanged(tmp_path, suffix):
    rows = _write_formula_like(tmp_path / f"d{suffix}")
    ds, report = import_file(tmp_path / f"d{suffix}", project_id=None)
    assert report.n_rejected == 0 and report.valid_rows == len(rows)
    part = load_dataset_dict(ds.id)["train"]
    assert [(r["prompt"], r["response"]) for r in part] == [(r["prompt"], r["response"]) for r in rows]
    out = tmp_path / "export.jsonl"
    export_jsonl(ds.id, out)  # only CSV the app writes is neutralised; JSONL keeps every byte
    exported = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["prompt"], r["response"]) for r in exported] == [(r["prompt"], r["response"]) for r in rows]


def test_rejected_rows_csv_neutralises_formula_looking_cells(tmp_path):
    # Lines that are not JSON are rejected as they are, so the rejected-rows file holds the raw payloads.
    f = write_jsonl(tmp_path / "d.jsonl", [{"prompt": "How do I pay?", "response": "By card"}, *FORMULA_LIKE])
    report = validate(inspect_file(f))
    assert report.n_rejected == len(FORMULA_LIKE)
    rows = list(csv.reader(io.StringIO(report.rejected_csv().decode("utf-8"), newline="")))
    assert rows[0] == ["line", "reason", "content"]
    assert [r[2] for r in rows[1:]] == ["'" + t for t in FORMULA_LIKE]
    assert [r[0] for r in rows[1:]] == [str(n) for n in range(2, 2 + len(FORMULA_LIKE))]


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


@pytest.mark.parametrize(
    ("name", "text"),
    [
        # A spreadsheet in a European locale saves ';' into a .csv; a .csv can hold tabs.
        ("semicolons.csv", "prompt;response\nwhere is my parcel, please?;shipping\nrefund me, now;billing\n"),
        ("tabs.csv", "prompt\tresponse\nwhere is my parcel, please?\tshipping\nrefund me, now\tbilling\n"),
        ("commas.tsv", 'prompt,response\n"where is my parcel, please?",shipping\n"refund me, now",billing\n'),
    ],
)
def test_the_csv_delimiter_is_read_from_the_file(tmp_path, name, text):
    (tmp_path / name).write_text(text)
    ds, report = import_file(tmp_path / name, project_id=None)
    assert report.valid_rows == 2 and not report.rejected
    rows = [dict(r) for r in load_dataset_dict(ds.id)["train"]]
    assert sorted((r["prompt"], r["response"]) for r in rows) == [
        ("refund me, now", "billing"),
        ("where is my parcel, please?", "shipping"),
    ]


def test_a_one_column_csv_keeps_sentences_with_separators_whole(tmp_path):
    f = tmp_path / "prompts.csv"
    f.write_text("prompt\nHello; I need help | urgently\nMy order; it is late\nWhere is it; please\n")
    ds, report = import_file(f, project_id=None)
    assert report.valid_rows == 3 and not report.rejected
    assert "Hello; I need help | urgently" in [r["prompt"] for r in load_dataset_dict(ds.id)["train"]]


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
