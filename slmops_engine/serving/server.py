"""The model server: one long-lived process per SLMOPS_HOME that runs Foundry Local and does what the deployments
table asks (deploying → place + load → running; stopping → unload → stopped), probes each running deployment,
and exits after a minute with nothing to serve. Started on demand; ``python -m slmops_engine.serving.server``.

It listens on `serve_port`, or on a free port when another program (another home's model server, say) holds that
one, and records the endpoint it serves at beside its lock (`model-server.json`, see proclock); each deployment it
loads carries that endpoint too."""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from pathlib import Path

from sqlmodel import col, select

from ..db import session_scope
from ..errors import describe_exception
from ..models import Deployment, DeploymentStatus, ModelVariant, ServeEvent, utcnow
from ..proclock import HomeLock
from ..settings import get_settings
from .catalog import LocalCatalog
from .placement import place
from .runtime import FoundryRuntime, PortInUse
from .templates import derive

log = logging.getLogger("slmops.serving")
LOCK = "model-server"
IDLE_EXIT_SECONDS = 60.0


def update(dep_id: int, expect: DeploymentStatus | None = None, **fields) -> bool:
    """Change a deployment, only while it still has the status this server acted on (a Stop clicked meanwhile
    wins over a load that just finished)."""
    with session_scope() as s:
        d = s.get(Deployment, dep_id)
        if d is None or (expect is not None and d.status != expect):
            return False
        for k, v in fields.items():
            setattr(d, k, v)
        d.updated_at = utcnow()
        s.add(d)
    return True


def _with_status(*statuses: DeploymentStatus) -> list[Deployment]:
    with session_scope() as s:
        return list(s.exec(select(Deployment).where(col(Deployment.status).in_(statuses))).all())


def open_runtime(catalog: LocalCatalog) -> FoundryRuntime:
    """Foundry Local on the configured port or, when that is taken and not fixed, on one the system picks."""
    s = get_settings()
    try:
        return FoundryRuntime(s.serve_port, catalog)
    except PortInUse as exc:
        if s.serve_port_fixed:
            raise
        log.warning("%s: listening on a free port instead", exc.message)
    return FoundryRuntime(0, catalog)


class ModelServer:
    def __init__(self) -> None:
        self.catalog = LocalCatalog()
        self.runtime = open_runtime(self.catalog)
        self.endpoint = self.runtime.url + "/v1"
        self.next_probe = 0.0
        self.idle_since = time.monotonic()

    # -- carrying out what was asked ------------------------------------------------------------------------------
    def _deploy(self, d: Deployment) -> None:
        with session_scope() as s:
            v = s.get(ModelVariant, d.variant_id)
        src = Path(v.artifact_path)
        name = d.model_id.split(":")[0]
        place(name, src, d.prompt_template, d.generation, custom_template=d.prompt_template != derive(src))
        self.catalog.add(name, d.name)
        t0 = time.perf_counter()
        self.runtime.load(d.model_id)
        log.info("Loaded %s in %.2f s", d.model_id, time.perf_counter() - t0)
        update(d.id, DeploymentStatus.deploying, status=DeploymentStatus.running, endpoint=self.endpoint)

    def tick(self) -> None:
        for d in _with_status(DeploymentStatus.deploying):
            try:
                self._deploy(d)
            except Exception as exc:  # noqa: BLE001 - reported on the deployment, the server goes on
                label, hint = describe_exception(exc)
                log.exception("Deploying %s failed", d.model_id)
                failed = {"status": DeploymentStatus.failed, "error_label": label, "error_hint": hint}
                update(d.id, DeploymentStatus.deploying, **failed)
        for d in _with_status(DeploymentStatus.stopping):
            self.runtime.unload(d.model_id)
            update(d.id, DeploymentStatus.stopping, status=DeploymentStatus.stopped)
        running = _with_status(DeploymentStatus.running)
        loaded = self.runtime.loaded()
        for d in running:
            if d.model_id not in loaded:  # recorded as running by a server that is gone
                update(d.id, DeploymentStatus.running, status=DeploymentStatus.failed, **LOST)
        if time.monotonic() >= self.next_probe:
            self.next_probe = time.monotonic() + get_settings().serve_probe_seconds
            for d in running:
                if d.model_id in loaded:
                    self.probe(d)
        if _with_status(DeploymentStatus.deploying, DeploymentStatus.running, DeploymentStatus.stopping):
            self.idle_since = time.monotonic()

    def probe(self, d: Deployment) -> None:
        """A one-token answer through the real endpoint; its latency is the deployment's health."""
        import openai

        client = openai.OpenAI(base_url=self.endpoint, api_key="local", timeout=30, max_retries=0)
        t0 = time.perf_counter()
        error = None
        try:
            client.chat.completions.create(
                model=d.model_id, messages=[{"role": "user", "content": "ping"}], max_tokens=1, temperature=0
            )
        except openai.OpenAIError as exc:
            error = str(exc)[:300]
        ms = (time.perf_counter() - t0) * 1000
        with session_scope() as s:
            s.add(ServeEvent(deployment_id=d.id, kind="probe", ok=error is None, latency_ms=ms, error=error))
        update(d.id, last_probe_ms=ms, last_probe_ok=error is None, last_probe_at=utcnow())

    def idle(self) -> bool:
        return time.monotonic() - self.idle_since > IDLE_EXIT_SECONDS

    def close(self) -> None:
        for d in _with_status(DeploymentStatus.running, DeploymentStatus.stopping, DeploymentStatus.deploying):
            update(d.id, d.status, status=DeploymentStatus.stopped)
        self.runtime.close()
        self.catalog.close()


LOST = {
    "error_label": "The model server stopped unexpectedly",
    "error_hint": "It was killed or crashed (out of memory?). Restart the deployment to serve it again.",
}


def fail_waiting(label: str, hint: str) -> None:
    for d in _with_status(DeploymentStatus.deploying):
        update(d.id, DeploymentStatus.deploying, status=DeploymentStatus.failed, error_label=label, error_hint=hint)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    lock = HomeLock(LOCK)
    if not lock.acquire():
        print(f"A model server already runs for {get_settings().home}.", file=sys.stderr)
        return 0
    from ..db import init_db

    init_db()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        server = ModelServer()
    except Exception as exc:  # noqa: BLE001 - e.g. a fixed port is taken: said on every waiting deployment
        label, hint = describe_exception(exc)
        log.error("The model server could not start: %s", label)
        fail_waiting(label, hint)
        lock.release()
        return 1
    lock.record(endpoint=server.endpoint)
    log.info("Model server %s on %s", get_settings().home, server.endpoint)
    try:
        while not stop.is_set() and not server.idle():
            try:
                server.tick()
            except Exception:  # noqa: BLE001 - a transient DB error must not stop serving
                log.exception("Model server pass failed; retrying")
            stop.wait(0.5)
    finally:
        server.close()
        lock.release()
    return 0


if __name__ == "__main__":
    sys.exit(main())
