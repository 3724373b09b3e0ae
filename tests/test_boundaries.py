"""House rules that keep the engine usable without the UI."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import slmops_engine

ROOT = Path(__file__).resolve().parents[1]


def test_engine_imports_without_streamlit():
    modules = [
        m.name
        for m in pkgutil.walk_packages(slmops_engine.__path__, "slmops_engine.")
        # Alembic runs the migration scripts itself, inside a migration; they are not modules to import.
        if not m.name.endswith("__main__") and not m.name.startswith("slmops_engine.migrations.")
    ]
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "assert 'streamlit' not in sys.modules, 'streamlit was imported'\n"
        "print(len(sys.modules))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert len(modules) > 15


def test_no_engine_source_imports_streamlit():
    offenders = [
        p
        for p in (ROOT / "slmops_engine").rglob("*.py")
        if "import streamlit" in p.read_text() or "from streamlit" in p.read_text()
    ]
    assert offenders == []


def test_stage_configs_forbid_unknown_keys_and_describe_every_field():
    from slmops_engine.stages import BUILTIN_STAGES, get_stage

    for kind in BUILTIN_STAGES:
        stage = get_stage(kind)
        assert stage.kind == kind
        assert stage.config.model_config.get("extra") == "forbid"
        for name, field in stage.config.model_fields.items():
            assert field.description, f"{kind}.{name} has no description"


def test_the_engine_imports_flow_one_way():
    """No import circles in the engine; the stage registry and stage modules are imported only by the job engine
    and the command line; the stage contract imports none of the packages built on it."""
    from tests.support.import_graph import ROOT, structure

    s = structure()
    assert s.circles == [], f"import circles: {s.circles}"
    assert s.into_stages == [], f"imports that climb into stages/: {s.into_stages}"

    import grimp

    graph = grimp.build_graph(ROOT)
    below = {m.split(".")[1] for m in graph.find_upstream_modules(f"{ROOT}.stage_api")}
    above = {
        "stages",
        "jobs",
        "cli",
        "data",
        "synth",
        "finetune",
        "optimize",
        "evaluate",
        "sweep",
        "serving",
        "pipeline",
    }
    assert not below & above, f"stage_api depends on {sorted(below & above)}"
