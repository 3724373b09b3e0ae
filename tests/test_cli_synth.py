"""`slmops synth --wait` in a subprocess against the local teacher server; a second run resumes from the cache."""

from __future__ import annotations

from tests.support.openai_server import Behaviour
from tests.support.synth import N
from tests.test_cli import slmops


def test_synth_wait_prints_dataset_then_resumes(prompts, teacher_server):
    slmops("projects", "create", "p")
    args = [
        "synth",
        "--dataset",
        str(prompts.id),
        "--project",
        "p",
        "--teacher-url",
        teacher_server.url,
        "--teacher-model",
        "teacher-model",
        "--concurrency",
        "4",
        "--wait",
    ]
    r = slmops(*args)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[-1].isdigit() and lines[-2].startswith(f"{N} answered, 0 from earlier runs, 0 failed")
    assert len(teacher_server.requests) == N
    r = slmops(*args)
    assert r.returncode == 0 and f"0 answered, {N} from earlier runs" in r.stdout
    assert len(teacher_server.requests) == N  # nothing asked twice


def test_synth_401_exits_non_zero_with_label(prompts, teacher_server):
    teacher_server.behaviour = Behaviour(api_key="secret")
    slmops("projects", "create", "p")
    r = slmops(
        "synth",
        "--dataset",
        str(prompts.id),
        "--project",
        "p",
        "--teacher-url",
        teacher_server.url,
        "--teacher-model",
        "teacher-model",
        "--wait",
    )
    assert r.returncode == 1 and "refused the API key (401)" in r.stderr and "Traceback" not in r.stderr
