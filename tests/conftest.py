"""Shared fixtures: a temporary SLMOPS_HOME per test, a running supervisor, tiny real models."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.support.leftovers import mark_session

ROOT = Path(__file__).resolve().parents[1]
SESSION_TOKEN = mark_session()  # every process a test starts carries it: see pytest_sessionfinish

# Workers are separate processes: they find the test stage plugin through the environment.
os.environ["SLMOPS_STAGE_PLUGINS"] = "tests.support.stages"
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
os.environ["HF_HUB_OFFLINE"] = "1"  # nothing in the suite may reach a model hub
# No keyring unless a test sets one up (tests/test_keys.py keeps keys in a file under its own tmp_path).
os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the suite when a process started by a test outlives the session (it is ended here either way)."""
    if SESSION_TOKEN is None:
        return
    from tests.support.leftovers import collect

    found = collect(SESSION_TOKEN)
    if not found:
        return
    lines = [f"  pid {p.pid}, running {p.age_s:.0f} s: {p.command}" for p in found]
    message = f"{len(found)} process(es) started by the tests outlived them (now killed):\n" + "\n".join(lines)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(message, red=True, bold=True)
    else:
        print(message, file=sys.stderr)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _reset_engine_state() -> None:
    from slmops_engine.db import dispose_engines
    from slmops_engine.settings import reset_settings

    dispose_engines()
    reset_settings()


@pytest.fixture(autouse=True)
def slmops_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own empty home and SQLite database."""
    home = tmp_path / "home"
    monkeypatch.setenv("SLMOPS_HOME", str(home))
    monkeypatch.delenv("SLMOPS_DATABASE_URL", raising=False)
    # Long enough that a cooperative Cancel is never escalated to SIGTERM on a slow or loaded machine; the tests of
    # escalation set a short grace themselves (see the short_grace fixture).
    monkeypatch.setenv("SLMOPS_CANCEL_GRACE_SECONDS", "30")
    monkeypatch.setenv("SLMOPS_POLL_SECONDS", "0.1")
    _reset_engine_state()
    from slmops_engine.db import init_db

    init_db()
    yield home
    from tests.support.supervisor import stop_home_processes

    stop_home_processes()  # what a command or a page started in the background for this home
    _reset_engine_state()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A real PostgreSQL server: the one .ci/run started (SLMOPS_TEST_POSTGRES_URL), else one started here for the
    session. Where none can run the PostgreSQL variants are skipped — unless SLMOPS_REQUIRE_POSTGRES says they
    must run (CI)."""
    from tests.support import postgres

    if url := os.environ.get(postgres.ENV):
        yield url
        return
    import shutil
    import tempfile

    # Directly under /tmp: the server runs as the postgres user, which cannot enter pytest's private folders.
    folder = Path(tempfile.mkdtemp(prefix="slmops-test-postgres-"))
    try:
        url = postgres.start(folder)
    except postgres.NoPostgres as exc:
        if os.environ.get("SLMOPS_REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL is required here: {exc}")
        pytest.skip(f"no PostgreSQL server: {exc}")
    yield url
    postgres.stop(folder)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, slmops_home, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test on SQLite and again on a fresh database of a real PostgreSQL server (workers the test starts
    inherit the URL). Modules choose it with ``pytestmark = pytest.mark.usefixtures("database")``."""
    if request.param == "sqlite":
        return "sqlite"
    from tests.support.postgres import fresh_database

    monkeypatch.setenv("SLMOPS_DATABASE_URL", fresh_database(request.getfixturevalue("postgres_url")))
    _reset_engine_state()
    from slmops_engine.db import init_db

    init_db()
    return "postgresql"


@pytest.fixture
def short_grace(monkeypatch: pytest.MonkeyPatch) -> float:
    """Cancel escalates fast (SIGTERM after 2 s, SIGKILL after 4 s): for the tests of escalation itself. Ask for it
    before `supervisor`, which reads the setting when it starts."""
    from slmops_engine.settings import reset_settings

    monkeypatch.setenv("SLMOPS_CANCEL_GRACE_SECONDS", "2")
    reset_settings()
    return 2.0


@pytest.fixture
def supervisor(slmops_home):
    """A real supervisor (in a thread of the test process) starting real worker processes."""
    from tests.support.supervisor import running_supervisor

    with running_supervisor() as sup:
        yield sup


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    from tests.support.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"), "llama")


@pytest.fixture(scope="session")
def tiny_qwen_dir(tmp_path_factory) -> Path:
    from tests.support.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-qwen2"), "qwen2")


@pytest.fixture
def teacher_server():
    """A real OpenAI-compatible server on 127.0.0.1 (see tests/support/openai_server.py)."""
    from tests.support.openai_server import OpenAIServer

    with OpenAIServer() as srv:
        yield srv


@pytest.fixture
def prompts(tmp_path):
    """A dataset of 12 training prompts and 3 held-out test rows."""
    from tests.support.synth import make_prompts

    return make_prompts(tmp_path)


@pytest.fixture(scope="session")
def bundled_model_dir(tmp_path_factory) -> Path:
    """The bundled SmolLM2-135M-Instruct converted once for the whole session (about 30 s)."""
    from slmops_engine.db import init_db
    from slmops_engine.stage_api import Reporter
    from slmops_engine.stages import prepare_model

    home = tmp_path_factory.mktemp("bundled-home")
    old = os.environ.get("SLMOPS_HOME")
    os.environ["SLMOPS_HOME"] = str(home)
    _reset_engine_state()
    try:
        init_db()
        result = prepare_model.run(prepare_model.Config(), Reporter())
    finally:
        if old is None:
            os.environ.pop("SLMOPS_HOME", None)
        else:
            os.environ["SLMOPS_HOME"] = old
        _reset_engine_state()
    return Path(result["path"])


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def tiny_onnx(tiny_model_dir, tiny_qwen_dir, tmp_path_factory) -> dict[str, Path]:
    """The tiny llama and qwen2 models as int4 ONNX (built once per session with the real builder)."""
    from slmops_engine.optimize.builder import run_builder, verify_outputs
    from slmops_engine.optimize.config import ConvertConfig

    root = tmp_path_factory.mktemp("tiny-onnx")
    out = {}
    for arch, src in (("llama", tiny_model_dir), ("qwen2", tiny_qwen_dir)):
        run_builder(ConvertConfig(variant_id=0), src, root / arch, root / "cache", root / "build.log")
        verify_outputs(root / arch, src)
        out[arch] = root / arch
    return out


@pytest.fixture
def serving(monkeypatch, slmops_home):
    """A free port for this test's model server, stopped afterwards whatever happened."""
    from slmops_engine.settings import reset_settings

    monkeypatch.setenv("SLMOPS_SERVE_PORT", str(free_port()))
    monkeypatch.setenv("SLMOPS_SERVE_PROBE_SECONDS", "1")
    reset_settings()
    yield
    from slmops_engine.serving.deployments import stop_server

    stop_server()
