"""The suite's own guard: a process that a test starts and leaves running fails the whole run, and is ended."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psutil

from tests.support.leftovers import MARK

ROOT = Path(__file__).resolve().parents[1]

LEAKY = """
import subprocess, sys
from pathlib import Path

def test_starts_a_background_process_and_forgets_it(tmp_path):
    # Detached like a job supervisor: its own session, so it is no longer pytest's child once pytest is gone.
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
    Path(r"{pidfile}").write_text(str(p.pid))
"""


def run_inner(tmp_path: Path, body: str) -> subprocess.CompletedProcess:
    (tmp_path / "test_inner.py").write_text(body.format(pidfile=tmp_path / "pid"))
    env = {k: v for k, v in os.environ.items() if k != MARK}  # the inner run is a session of its own
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.conftest", "--noconftest",
         "--rootdir", str(tmp_path), str(tmp_path / "test_inner.py")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_a_process_left_running_fails_the_suite_and_is_ended(tmp_path):
    r = run_inner(tmp_path, LEAKY)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "1 passed" in r.stdout  # the test itself passed: the session's end check is what failed
    assert "1 process(es) started by the tests outlived them" in r.stdout
    pid = int((tmp_path / "pid").read_text())
    assert "time.sleep(600)" in r.stdout and f"pid {pid}" in r.stdout
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_a_suite_that_cleans_up_passes(tmp_path):
    clean = LEAKY.replace('Path(r"{pidfile}").write_text(str(p.pid))', "p.kill(); p.wait()")
    r = run_inner(tmp_path, clean)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "outlived" not in r.stdout
