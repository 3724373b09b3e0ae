"""`slmops data ...` end to end in subprocesses: ids on stdout, plain reasons and non-zero exits on bad input."""

from __future__ import annotations

import csv
import json

from tests.test_cli import slmops


def test_import_show_split_export(tmp_path):
    slmops("projects", "create", "p")
    f = tmp_path / "d.jsonl"
    f.write_text(
        "\n".join(json.dumps({"prompt": f"q{i}", "response": f"a{i}", "label": "xy"[i % 2]}) for i in range(20)) + "\n"
    )
    r = slmops("data", "import", str(f), "--project", "p", "--name", "twenty")
    assert r.returncode == 0, r.stderr
    ds_id = r.stdout.strip().splitlines()[-1]
    assert ds_id.isdigit() and "20 of 20 rows are valid" in r.stderr
    assert "twenty" in slmops("data", "show", ds_id).stdout
    r = slmops("data", "split", ds_id, "--validation", "0.2", "--test", "0.2")
    split_id = r.stdout.strip()
    out = tmp_path / "test.jsonl"
    r = slmops("data", "export", split_id, "--out", str(out), "--split", "test")
    assert r.returncode == 0 and "4 rows written" in r.stdout
    assert {json.loads(line)["label"] for line in out.read_text().splitlines()} == {"x", "y"}


def test_bad_file_exits_non_zero_with_reasons_and_rejected_csv(tmp_path):
    slmops("projects", "create", "p")
    f = tmp_path / "d.jsonl"
    f.write_text('{"prompt": "ok", "response": "fine"}\n{broken\n')
    r = slmops("data", "import", str(f), "--project", "p")
    assert r.returncode == 2 and "1 of 2 rows have problems" in r.stderr and "Traceback" not in r.stderr
    rej = tmp_path / "rejected.csv"
    r = slmops("data", "import", str(f), "--project", "p", "--accept-partial", "--rejected-out", str(rej))
    assert r.returncode == 0
    rows = list(csv.DictReader(rej.open()))
    assert rows[0]["line"] == "2" and rows[0]["reason"].startswith("malformed JSON")
    r = slmops("data", "import", str(tmp_path / "missing.csv"), "--project", "p")
    assert r.returncode == 2 and "No file at" in r.stderr


def test_refused_import_lists_the_first_problems_and_writes_rejected_rows(tmp_path):
    slmops("projects", "create", "p")
    lines = [json.dumps({"prompt": f"my order {i} is late", "response": "shipping"}) for i in range(32)]
    lines[4] = "{broken"
    lines[19] = json.dumps({"prompt": "where is my parcel?", "response": ""})
    f = tmp_path / "d.jsonl"
    f.write_text("\n".join(lines) + "\n")
    rej = tmp_path / "rejected.csv"
    r = slmops("data", "import", str(f), "--project", "p", "--rejected-out", str(rej))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "2 of 32 rows have problems: line 5: malformed JSON" in r.stderr
    assert "line 20: empty response" in r.stderr
    rows = list(csv.DictReader(rej.open(encoding="utf-8")))
    assert [(row["line"], row["reason"]) for row in rows][1] == ("20", "empty response")
    assert rows[0]["line"] == "5" and rows[0]["content"] == "{broken"
    from slmops_engine.data import list_datasets

    assert list_datasets() == []  # refused: nothing stored
