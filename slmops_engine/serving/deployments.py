"""Deployments, as the app and the CLI see them: deploy (idempotent per model), stop, restart, remove, list, and
the detection of a model server that died. The model server process does the serving (serving/server.py)."""

from __future__ import annotations

import time
from pathlib import Path

from sqlmodel import col, delete, select

from ..db import get_or_raise, session_scope
from ..errors import ConfigError, SlmopsError
from ..models import Deployment, DeploymentStatus, ModelVariant, ServeEvent, as_utc, utcnow
from ..proclock import holder_pid, recorded, start_background, stop_holder
from ..settings import get_settings
from .placement import GENERATION_DEFAULTS, check_servable, model_id, model_name, unplace
from .server import LOCK, LOST, update
from .templates import derive, validate

SERVER_MODULE = "slmops_engine.serving.server"


def server_pid() -> int | None:
    return holder_pid(LOCK)


def ensure_server() -> int:
    pid = start_background(SERVER_MODULE, LOCK, get_settings().serving_dir / "server.log")
    if not pid:
        log = get_settings().serving_dir / "server.log"
        tail = log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else []
        raise SlmopsError("The model server did not start", f"Its log ({log}) ends with: {' '.join(tail) or '—'}")
    return pid


def endpoint() -> str | None:
    """Where this home's model server answers (OpenAI-compatible), as it recorded once listening; None while none
    runs. It is the configured port's address unless another program held that port."""
    return (recorded(LOCK) or {}).get("endpoint")


def configured_endpoint() -> str:
    """The address a model server starting now tries first."""
    return f"http://127.0.0.1:{get_settings().serve_port}/v1"


def servable_variant(variant_id: int) -> ModelVariant:
    v = get_or_raise(ModelVariant, variant_id, "Model variant", "Pick an ONNX model on the Deploy page.")
    if v.format != "onnx":
        raise ConfigError(f"{v.name} is not an ONNX model", "Convert it on the Optimize page, then deploy the result.")
    check_servable(Path(v.artifact_path))
    return v


def get_deployment(dep_id: int) -> Deployment:
    return get_or_raise(Deployment, dep_id, "Deployment", "`slmops deployments` lists them.")


def deploy(
    variant_id: int,
    template: dict[str, str] | None = None,
    generation: dict | None = None,
    project_id: int | None = None,
) -> Deployment:
    """Serve this ONNX model. A model has at most one deployment: deploying it again (new settings, or after a
    stop or failure) reuses it instead of adding a duplicate."""
    v = servable_variant(variant_id)
    template = validate(template) if template else derive(Path(v.artifact_path))
    generation = GENERATION_DEFAULTS | {k: x for k, x in (generation or {}).items() if k in GENERATION_DEFAULTS}
    with session_scope() as s:
        d = s.exec(select(Deployment).where(Deployment.variant_id == v.id)).first()
        if d is not None and d.status.active and d.prompt_template == template and d.generation == generation:
            return d
        name = model_name(v.id, v.name)
        d = d or Deployment(variant_id=v.id, model_id=model_id(name), name=v.name)
        d.project_id = project_id if project_id is not None else v.project_id
        d.prompt_template, d.generation = template, generation
        d.status, d.error_label, d.error_hint, d.updated_at = DeploymentStatus.deploying, None, None, utcnow()
        s.add(d)
    return _serve(d.id)


def _serve(dep_id: int) -> Deployment:
    """Make sure the model server runs for a deployment that asks to be served. A server that cannot start has
    said why on the deployment (e.g. its port is taken); otherwise the reason is recorded here."""
    try:
        ensure_server()
    except SlmopsError as exc:
        d = get_deployment(dep_id)
        if d.status != DeploymentStatus.failed:
            update(dep_id, status=DeploymentStatus.failed, error_label=exc.message, error_hint=exc.hint)
    return get_deployment(dep_id)


def stop(dep_id: int) -> Deployment:
    d = get_deployment(dep_id)
    if d.status.active:
        update(d.id, status=DeploymentStatus.stopping)
        if not server_pid():  # nothing serves it: it is stopped already
            update(d.id, status=DeploymentStatus.stopped)
    return get_deployment(dep_id)


def restart(dep_id: int) -> Deployment:
    d = get_deployment(dep_id)
    servable_variant(d.variant_id)
    update(d.id, status=DeploymentStatus.deploying, error_label=None, error_hint=None)
    return _serve(d.id)


def remove(dep_id: int, timeout: float = 30.0) -> None:
    """Stop (waiting for the unload), then forget the deployment and its files in Foundry Local's cache."""
    d = stop(dep_id)
    if d.status == DeploymentStatus.stopping:
        d = wait_for(dep_id, {DeploymentStatus.stopped, DeploymentStatus.failed}, timeout)
    unplace(d.model_id.split(":")[0])
    with session_scope() as s:
        s.exec(delete(ServeEvent).where(col(ServeEvent.deployment_id) == dep_id))
        s.exec(delete(Deployment).where(col(Deployment.id) == dep_id))


STARTING_GRACE_SECONDS = 30.0


def check_server() -> None:
    """A deployment the model server should be serving, with no model server alive, has failed: say so. (One
    asked for moments ago is left alone: its server may still be starting.)"""
    if server_pid():
        return
    from datetime import timedelta

    with session_scope() as s:
        rows = s.exec(
            select(Deployment).where(
                col(Deployment.status).in_(
                    (DeploymentStatus.deploying, DeploymentStatus.running, DeploymentStatus.stopping)
                )
            )
        ).all()
    recent = utcnow() - timedelta(seconds=STARTING_GRACE_SECONDS)
    for d in rows:
        if d.status == DeploymentStatus.deploying and as_utc(d.updated_at) > recent:
            continue
        if d.status == DeploymentStatus.stopping:
            update(d.id, DeploymentStatus.stopping, status=DeploymentStatus.stopped)
        else:
            update(d.id, d.status, status=DeploymentStatus.failed, **LOST)


def list_deployments(project_id: int | None = None) -> list[Deployment]:
    check_server()
    with session_scope() as s:
        q = select(Deployment).order_by(col(Deployment.id))
        if project_id is not None:
            q = q.where((Deployment.project_id == project_id) | (col(Deployment.project_id).is_(None)))
        return list(s.exec(q).all())


def wait_for(dep_id: int, statuses: set[DeploymentStatus], timeout: float = 120.0) -> Deployment:
    deadline = time.monotonic() + timeout
    while True:
        check_server()
        d = get_deployment(dep_id)
        if d.status in statuses:
            return d
        if time.monotonic() > deadline:
            raise SlmopsError(
                f"Deployment {dep_id} is still {d.status.value} after {timeout:.0f} s",
                f"See the model server's log: {get_settings().serving_dir / 'server.log'}",
            )
        time.sleep(0.2)


def events(dep_id: int, limit: int = 500) -> list[ServeEvent]:
    """The newest requests and probes of a deployment, oldest first."""
    with session_scope() as s:
        q = (
            select(ServeEvent)
            .where(ServeEvent.deployment_id == dep_id)
            .order_by(col(ServeEvent.id).desc())
            .limit(limit)
        )
        return list(s.exec(q).all())[::-1]


def stop_server(timeout: float = 15.0) -> None:
    """Stop the model server (it unloads everything; its deployments show as stopped)."""
    stop_holder(LOCK, timeout)
