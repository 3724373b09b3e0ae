"""`slmops finetune --wait` end to end in a subprocess on the tiny model."""

from __future__ import annotations

import json
import shlex

from tests.test_cli import slmops


def test_finetune_wait_prints_variant_and_a_reproducible_command(tmp_path, tiny_model_dir):
    rows = [{"prompt": f"my parcel {i} never arrived", "response": "shipping"} for i in range(20)]
    f = tmp_path / "d.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    slmops("projects", "create", "p")
    ds = slmops("data", "import", str(f), "--project", "p").stdout.strip()
    r = slmops(
        "finetune",
        "--dataset",
        ds,
        "--project",
        "p",
        "--student-path",
        str(tiny_model_dir),
        "--preset",
        "quick",
        "--max-steps",
        "4",
        "--batch-size",
        "4",
        "--precision",
        "fp32",
        "--wait",
    )
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[-1].isdigit() and "validation loss" in lines[-2] and "Traceback" not in r.stderr
    from slmops_engine.variants import list_variants

    (variant,) = list_variants(stage="finetune")
    cmd = shlex.split(variant.config["command"])
    assert cmd[:4] == ["slmops", "finetune", "--dataset", ds] and "--max-steps" in cmd


def test_finetune_qlora_refused_with_plain_message(tmp_path, tiny_model_dir):
    f = tmp_path / "d.jsonl"
    f.write_text(json.dumps({"prompt": "hello", "response": "hi"}) + "\n")
    slmops("projects", "create", "p")
    ds = slmops("data", "import", str(f), "--project", "p").stdout.strip()
    r = slmops("finetune", "--dataset", ds, "--student-path", str(tiny_model_dir), "--method", "qlora", "--wait")
    assert r.returncode == 2 and "QLoRA needs a CUDA GPU" in r.stderr and "Traceback" not in r.stderr
