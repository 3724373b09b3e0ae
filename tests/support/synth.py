"""Helpers for the teacher-run tests: a small prompts dataset and a config pointing at the local server."""

from __future__ import annotations

import json

from sqlmodel import func, select

from slmops_engine.data import import_file
from slmops_engine.db import session_scope
from slmops_engine.models import TeacherAnswer
from slmops_engine.stages import synth
from slmops_engine.teachers import Provider, TeacherConfig

N = 12  # training prompts in the dataset (3 more are in its test part)


def make_prompts(tmp_path):
    rows = [
        {
            "prompt": f"customer message number {i}",
            "response": "billing",
            "label": "billing",
            "split": "test" if i >= N else "train",
        }
        for i in range(N + 3)
    ]
    f = tmp_path / "p.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    ds, _ = import_file(f, project_id=None)
    return ds


def config(ds, server, **kw) -> synth.Config:
    teacher = TeacherConfig(
        provider=Provider.openai_compatible,
        base_url=server.url,
        model="teacher-model",
        system_prompt="Route the message.",
        **kw.pop("teacher", {}),
    )
    return synth.Config(dataset_id=ds.id, teacher=teacher, **kw)


def ok_requests(server) -> list:
    return [r for r in server.requests if r.answered]


def n_cached() -> int:
    with session_scope() as s:
        return s.exec(select(func.count()).select_from(TeacherAnswer)).one()
