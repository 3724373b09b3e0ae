"""What a job asks of the machine that runs it: CPUs, GPUs and memory. The Ray executor makes them the task's
resource request, so Ray places the job on a node that has them, and refuses at once a job that no node of the
cluster could run (rather than leave it waiting forever). A stage module may define ``needs(config) -> Needs``;
the memory comes from the job's estimate (jobs/estimates.py) when the stage does not say."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from ..models import Job
from ..sysinfo import human_bytes


@dataclass(frozen=True)
class Needs:
    cpus: float = 1.0
    gpus: float = 0.0
    memory_bytes: int | None = None

    def words(self, gpus: bool = False) -> str:
        """'1 CPU, 1 GPU and 4.0 GB of memory' (with ``gpus``, 'no GPU' is said too)."""
        parts = [f"{self.cpus:g} CPU{'s' if self.cpus != 1 else ''}"]
        if self.gpus:
            parts.append(f"{self.gpus:g} GPU{'s' if self.gpus != 1 else ''}")
        elif gpus:
            parts.append("no GPU")
        if self.memory_bytes:
            parts.append(f"{human_bytes(self.memory_bytes)} of memory")
        return ", ".join(parts[:-1]) + f" and {parts[-1]}" if len(parts) > 1 else parts[0]


def needs_of(job: Job) -> Needs:
    from ..stages import get_stage
    from .estimates import estimate_for, recorded

    stage = get_stage(job.kind)
    config = stage.config.model_validate(job.config)
    needs = stage.needs(config) or Needs(cpus=1.0 if job.heavy else 0.25)
    if needs.memory_bytes is None:
        # The estimate recorded at submission; made here when the supervisor took the job before it was recorded.
        est = recorded(job.id) or estimate_for(job.kind, config)
        if est is not None and est.peak_bytes:
            needs = replace(needs, memory_bytes=int(est.peak_bytes))
    return needs


def unplaceable(needs: Needs, nodes: Iterable[dict]) -> str | None:
    """Why no live node can run a job with these needs (Ray's ``ray.nodes()`` records); None when one can."""
    alive = [n.get("Resources", {}) for n in nodes if n.get("Alive")]
    if not alive:
        return "The Ray cluster has no live node"
    for r in alive:
        if (
            r.get("CPU", 0) >= needs.cpus
            and r.get("GPU", 0) >= needs.gpus
            and (not needs.memory_bytes or r.get("memory", 0) >= needs.memory_bytes)
        ):
            return None
    most = Needs(
        cpus=max(r.get("CPU", 0) for r in alive),
        gpus=max(r.get("GPU", 0) for r in alive),
        memory_bytes=int(max(r.get("memory", 0) for r in alive)),
    )
    largest = most.words(gpus=needs.gpus > 0)
    return f"No node of the Ray cluster can run it: it needs {needs.words()}; the largest node has {largest}"
