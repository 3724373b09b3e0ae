"""`slmops variants`, `slmops eval --wait --out`, `slmops eval show`, `slmops report` and `slmops export` in
subprocesses, on the tiny models and the teacher server on 127.0.0.1."""

from __future__ import annotations

import json
import re
import zipfile

from tests.support.evaluation import TEST_ROWS, route_or_judge, tiny_project
from tests.support.openai_server import OpenAIServer
from tests.test_cli import slmops
from tests.test_evaluate import METRICS


def test_variants_eval_show_report_and_export(tiny_model_dir, tiny_onnx, tmp_path):
    with OpenAIServer(answer=route_or_judge) as srv:
        p, ds, base, onnx = tiny_project(srv.url, tmp_path, tiny_model_dir, tiny_onnx["llama"])

        r = slmops("variants", "--project", "router", "--json")
        assert r.returncode == 0, r.stderr
        rows = json.loads(r.stdout)
        assert [(x["id"], x["stage"], x["format"], x["parent"]) for x in rows] == [
            (base.id, "import", "hf", None),
            (onnx.id, "convert", "onnx", base.id),
        ]
        assert "convert   onnx     int4" in slmops("variants", "--project", "router").stdout

        out = tmp_path / "results.json"
        r = slmops(
            "eval", "--variants", f"teacher,{base.id},{onnx.id}", "--dataset", str(ds.id), "--wait", "--out", str(out)
        )
        assert r.returncode == 0, r.stderr
    job_id = int(r.stdout.strip().splitlines()[-1])
    assert "Teacher (teacher-model)" in r.stdout and "Ship " in r.stdout
    ev = json.loads(out.read_text())
    assert [v["id"] for v in ev["variants"]] == ["teacher", base.id, onnx.id]
    for v in ev["variants"]:
        assert set(v["metrics"]) >= METRICS and len(v["samples"]) == TEST_ROWS
    assert ev["variants"][0]["metrics"]["label_accuracy"] == 1.0  # a share, as a fraction
    assert ev["variants"][0]["metrics"]["perplexity"] is None and ev["variants"][1]["metrics"]["perplexity"] > 1

    shown = slmops("eval", "show", str(job_id))
    assert shown.returncode == 0 and "100.0%" in shown.stdout

    report = tmp_path / "report.html"
    r = slmops("report", "--project", "router", "--out", str(report))
    assert r.returncode == 0, r.stderr
    html = report.read_text()
    assert all(v["name"] in html for v in ev["variants"])
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=[\"']https?:", html)

    bundle = tmp_path / "bundle.zip"
    r = slmops("export", str(onnx.id), "--out", str(bundle))
    assert r.returncode == 0, r.stderr
    names = zipfile.ZipFile(bundle).namelist()
    assert {"model/genai_config.json", "model/inference_model.json", "MODEL_CARD.md", "report.html"} <= set(names)

    bad = slmops("export", str(base.id), "--out", str(tmp_path / "x.zip"))
    assert bad.returncode == 2 and "Optimize page" in bad.stderr and "Traceback" not in bad.stderr
    missing = slmops("eval", "--variants", "teacher,999", "--dataset", str(ds.id), "--wait")
    assert missing.returncode == 2 and "999" in missing.stderr
