"""Environment check with clear verdicts: what works, what is missing and what to do about it."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import shutil
import sys
from dataclasses import dataclass
from typing import Literal

from .proclock import running_for
from .sysinfo import GiB, human_bytes

Verdict = Literal["ok", "warn", "fail", "info"]

# (distribution, import name, required for the core loop)
PACKAGES = [
    ("torch", "torch", True),
    ("transformers", "transformers", True),
    ("sqlmodel", "sqlmodel", True),
    ("streamlit", "streamlit", True),
    ("openai", "openai", True),
    ("peft", "peft", False),
    ("datasets", "datasets", False),
    ("onnxruntime-genai", "onnxruntime_genai", False),
    ("olive-ai", "olive", False),
    ("foundry-local-sdk", "foundry_local_sdk", False),
    ("gguf", "gguf", False),
    ("plotly", "plotly", False),
]


@dataclass
class Check:
    name: str
    verdict: Verdict
    detail: str
    hint: str = ""


def _package_checks() -> list[Check]:
    out = []
    for dist, mod, required in PACKAGES:
        try:
            version = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            version = None
        if version and importlib.util.find_spec(mod) is not None:
            out.append(Check(f"package {dist}", "ok", version))
        else:
            out.append(
                Check(
                    f"package {dist}",
                    "fail" if required else "warn",
                    "not installed",
                    "Run `make setup` (or `pip install -e .`).",
                )
            )
    return out


def run_checks() -> list[Check]:
    from .settings import get_settings

    s = get_settings()
    checks = [
        Check(
            "python",
            "ok" if sys.version_info >= (3, 10) else "fail",
            sys.version.split()[0],
            "Python 3.10 or newer is needed.",
        )
    ]
    checks += _package_checks()

    try:
        import torch

        cuda = torch.cuda.is_available()
        name = torch.cuda.get_device_name(0) if cuda else "CPU only"
        checks.append(
            Check(
                "accelerator",
                "ok" if cuda else "info",
                name,
                "" if cuda else "Training runs on the CPU; QLoRA and fp16 need a CUDA GPU.",
            )
        )
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        checks.append(Check("accelerator", "warn", f"torch did not load: {exc}"))

    import psutil

    vm = psutil.virtual_memory()
    checks.append(
        Check(
            "memory",
            "ok" if vm.available > 4 * GiB else "warn",
            f"{human_bytes(vm.available)} free of {human_bytes(vm.total)}",
            "Fine-tuning even a 135M model wants about 4 GB free.",
        )
    )
    try:
        probe = s.home / ".write-test"
        probe.write_text("ok")
        probe.unlink()
        free = shutil.disk_usage(s.home).free
        verdict: Verdict = "ok" if free > 5 * GiB else "warn" if free > 1 * GiB else "fail"
        checks.append(
            Check(
                "storage",
                verdict,
                f"{s.home} writable, {human_bytes(free)} free",
                "Models and checkpoints need several GB; free disk space.",
            )
        )
    except OSError as exc:
        checks.append(
            Check("storage", "fail", f"{s.home} is not writable: {exc}", "Set SLMOPS_HOME to a writable folder.")
        )

    try:
        from sqlmodel import func, select

        from .db import get_engine, session_scope
        from .models import Project
        from .schema import revision_of

        with session_scope() as ses:
            n = ses.exec(select(func.count()).select_from(Project)).one()
        where = f"{get_engine().dialect.name} at {s.db_url.split('@')[-1]}"
        checks.append(Check("database", "ok", f"{where} ({n} projects, schema {revision_of(get_engine())})"))
    except Exception as exc:  # noqa: BLE001
        checks.append(
            Check(
                "database",
                "fail",
                f"cannot open {s.db_url.split('@')[-1]}: {exc}",
                "Check SLMOPS_DATABASE_URL, or unset it to use SQLite in SLMOPS_HOME.",
            )
        )

    checks.append(_bundled_check())
    checks.append(_hub_check())

    checks.append(_supervisor_check())
    checks.append(_serving_check(s))
    checks.append(_executor_check(s))
    checks.append(_sign_in_check(s))
    checks.append(_storage_check(s))
    return checks


def _storage_check(s) -> Check:
    if not s.storage_url:
        return Check("artifacts", "ok", f"under {s.home} (on a cluster: a folder every node mounts at that path)")
    try:
        from fsspec.core import url_to_fs

        fs, root = url_to_fs(s.storage_url)
        fs.makedirs(root, exist_ok=True)
        probe = f"{root.rstrip('/')}/.doctor-probe"
        fs.pipe_file(probe, b"ok")
        if fs.cat_file(probe) != b"ok":
            raise OSError("what was written did not read back the same")
        fs.rm_file(probe)
    except Exception as exc:  # noqa: BLE001 - any failure to write there is reported as such
        where = f"the object store {s.storage_url}"
        return Check("artifacts", "fail", f"{where} cannot be written: {exc}", "Check the URL and its credentials.")
    return Check("artifacts", "ok", f"mirrored in {s.storage_url} (written and read back)")


def _sign_in_check(s) -> Check:
    if not s.sign_in:
        return Check("sign-in", "info", "off: serve the dashboard on 127.0.0.1 only", "Shared? SLMOPS_SIGN_IN=1.")
    try:
        from .users import list_users

        n = len(list_users())
    except Exception as exc:  # noqa: BLE001 - the database check reports the cause
        return Check("sign-in", "warn", f"on; the users cannot be read ({type(exc).__name__})")
    if not n:
        return Check("sign-in", "fail", "on, and nobody can sign in", "slmops users add NAME")
    return Check("sign-in", "ok", f"on: {n} user(s) may sign in")


def _executor_check(s) -> Check:
    """Where jobs run: local processes, or a Ray cluster (its live nodes, and a database they can all reach)."""
    if s.executor != "ray":
        return Check("jobs run", "ok", "as processes on this machine (SLMOPS_EXECUTOR=local)")
    try:
        import ray
    except ImportError:
        return Check("jobs run", "fail", "on Ray, which is not installed", "pip install '.[ray]'")
    if s.db_url.startswith("sqlite") and s.ray_address not in (None, "local"):
        return Check(
            "jobs run", "fail", "on a Ray cluster, with a SQLite database its nodes cannot share", "Use PostgreSQL."
        )
    try:
        started = not ray.is_initialized()
        if started:
            ray.init(address=None if s.ray_address in (None, "local") else s.ray_address, ignore_reinit_error=True)
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        if started:
            ray.shutdown()
    except Exception as exc:  # noqa: BLE001 - any failure to reach the cluster is reported as such
        return Check("jobs run", "fail", f"on Ray at {s.ray_address or 'a local cluster'}: {exc}", "Start the head.")
    cpus = sum(n["Resources"].get("CPU", 0) for n in nodes)
    gpus = sum(n["Resources"].get("GPU", 0) for n in nodes)
    where = s.ray_address or "a local cluster"
    return Check("jobs run", "ok", f"on Ray at {where}: {len(nodes)} live node(s), {cpus:g} CPUs, {gpus:g} GPUs")


def _running(pid: int) -> str:
    age = running_for(pid)
    return f"pid {pid}, running for {age}" if age else f"pid {pid}"


def _supervisor_check() -> Check:
    """This home's job supervisor: its pid and age, and whether it leaves by itself when idle."""
    from .jobs.supervisor import supervisor_mode, supervisor_pid

    pid = supervisor_pid()
    if not pid:
        return Check("job supervisor", "info", "not running", "The dashboard or a command that queues a job starts it.")
    return Check("job supervisor", "ok", _running(pid) + _how_started(supervisor_mode()))


def _how_started(mode: dict | None) -> str:
    if not mode:
        return ""  # it has not said yet (starting)
    if not mode.get("background"):
        return " (in the foreground: `slmops worker`; `slmops worker stop` ends it)"
    idle = mode.get("idle_seconds") or 0
    if not idle:
        return " (in the background)"
    after = f"{idle:g} s" if idle < 120 else f"{idle / 60:g} min"
    return f" (in the background; exits after {after} with nothing to do)"


def _serving_check(s) -> Check:
    """This home's model server: its pid, age and the endpoint it recorded; or whether it can have its port."""
    import socket

    from .serving.deployments import endpoint, server_pid

    port = s.serve_port
    pid = server_pid()
    if pid:
        where = endpoint()
        moved = where and f":{port}/" not in where
        detail = _running(pid) + (f", at {where}" if where else ", starting")
        return Check("model server", "ok", detail + (f" (port {port} was taken)" if moved else ""))
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            if s.serve_port_fixed:
                return Check(
                    "model server",
                    "warn",
                    f"not running; port {port} is used by another program (and SLMOPS_SERVE_PORT_FIXED is set)",
                    "Set SLMOPS_SERVE_PORT to a free port, or unset SLMOPS_SERVE_PORT_FIXED, before deploying.",
                )
            detail = f"not running; port {port} is used by another program, so it will listen on a free port"
            return Check("model server", "info", detail, "Deploying a model starts it.")
    return Check("model server", "info", f"not running; port {port} is free", "Deploying a model starts it.")


def _bundled_check() -> Check:
    from .bundled import bundled_gguf_path, bundled_variant
    from .errors import ModelLoadError

    try:
        bundled_gguf_path()
    except ModelLoadError as exc:
        return Check("bundled model", "warn", exc.message, exc.hint)
    try:
        v = bundled_variant()
    except Exception as exc:  # noqa: BLE001 - the database check reports the cause
        return Check("bundled model", "warn", f"installed; its status is unknown ({type(exc).__name__})")
    if v:
        return Check("bundled model", "ok", f"prepared at {v.artifact_path}")
    return Check("bundled model", "info", "installed, not prepared yet", "Run `slmops models prepare-demo` (once).")


def _hub_check() -> Check:
    from .hub import hub_reachable

    ok, reason = hub_reachable(timeout=3)
    if ok:
        return Check("model hub", "ok", "reachable")
    return Check(
        "model hub",
        "info",
        f"not reachable: {reason}",
        "Catalog models must be copied here as folders; the bundled model works offline.",
    )
