"""Helpers for the evaluation tests: a small labelled routing dataset, a teacher server that routes by keyword,
and the tiny models registered as variants."""

from __future__ import annotations

import json
from pathlib import Path

from slmops_engine.data import import_file
from slmops_engine.db import session_scope
from slmops_engine.evaluate.judge import RUBRIC
from slmops_engine.models import ModelVariant
from slmops_engine.projects import create_project, set_teacher
from slmops_engine.teachers import Provider, TeacherConfig

ROUTES = {"invoice": "billing", "password": "account", "parcel": "shipping", "crash": "technical"}
TEST_ROWS = 8


def routing_dataset(tmp_path: Path, project_id: int | None = None):
    rows = []
    words = list(ROUTES)
    for i in range(16 + TEST_ROWS):
        word = words[i % len(words)]
        rows.append(
            {
                "prompt": f"message {i} about my {word}",
                "response": ROUTES[word],
                "label": ROUTES[word],
                "split": "test" if i >= 16 else "train",
            }
        )
    f = tmp_path / "routing.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    ds, _ = import_file(f, project_id=project_id)
    return ds


def route_or_judge(messages: list[dict]) -> str:
    """A teacher that routes every message right, and as a judge gives 9 to a right route and 2 otherwise."""
    if messages and messages[0].get("content") == RUBRIC:
        body = messages[-1]["content"]
        reference = body.split("REFERENCE:\n")[1].split("\n")[0]
        answer = body.split("ANSWER:\n")[1].strip()
        return json.dumps({"score": 9 if answer == reference else 2, "reason": "compared with the reference"})
    last = messages[-1]["content"]
    return next((route for word, route in ROUTES.items() if word in last), "technical")


def project_with_teacher(base_url: str, name: str = "router"):
    p = create_project(name)
    set_teacher(
        p.id,
        TeacherConfig(
            provider=Provider.openai_compatible, base_url=base_url, model="teacher-model", system_prompt="Route."
        ),
    )
    return p


def register(path: Path, *, stage: str, fmt: str, precision: str = "", parent_id=None, project_id=None) -> ModelVariant:
    size = sum(f.stat().st_size for f in Path(path).iterdir() if f.is_file())
    with session_scope() as s:
        v = ModelVariant(
            name=f"tiny {stage} {precision}".strip(),
            stage=stage,
            format=fmt,
            precision=precision,
            artifact_path=str(path),
            size_bytes=size,
            parent_id=parent_id,
            project_id=project_id,
        )
        s.add(v)
    return v


def tiny_project(base_url: str, tmp_path: Path, tiny_model_dir: Path, tiny_onnx_dir: Path):
    """A project with the routing teacher at ``base_url``, the routing data, the tiny model as its base student
    and that model's int4 conversion: (project, dataset, base variant, int4 variant)."""
    p = project_with_teacher(base_url)
    ds = routing_dataset(tmp_path, p.id)
    base = register(tiny_model_dir, stage="import", fmt="hf", precision="float32", project_id=p.id)
    onnx = register(tiny_onnx_dir, stage="convert", fmt="onnx", precision="int4", parent_id=base.id, project_id=p.id)
    return p, ds, base, onnx
