"""What an evaluation compares, resolved from its references ('teacher', '12', '12:adapter', 'deployment:3') into
targets: a model on this machine (transformers or onnxruntime-genai) or an OpenAI-compatible endpoint."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..db import get_or_raise
from ..errors import ConfigError, NotFoundError
from ..models import Deployment, DeploymentStatus, ModelVariant
from ..teachers import Provider, TeacherConfig, chat_messages
from ..teaching import Asking
from .config import TEACHER

KIND_OF_STAGE = {"import": "base", "finetune": "finetune", "convert": "onnx"}


@dataclass
class Target:
    ref: str
    name: str
    kind: str  # teacher, base, finetune, onnx, adapter, deployment
    runtime: str  # transformers, onnxruntime-genai, endpoint
    precision: str = ""
    path: str | None = None  # the model folder, for a model on this machine
    adapter: dict | None = None  # {"name", "file"}: one adapter of a multi-adapter ONNX model
    system: str = ""  # instructions every prompt gets (the teacher's)
    few_shot: list[dict[str, str]] = field(default_factory=list)
    endpoint: dict | None = None  # a TeacherConfig as JSON, for an endpoint
    variant_id: int | None = None
    parent_id: int | None = None
    size_bytes: int | None = None
    deployment_id: int | None = None
    labels: list[str] = field(default_factory=list)  # a labelled task's teacher answers with one of them
    asking: Asking | None = field(default=None, repr=False)  # how the teacher is asked (as for distillation)
    _identity: str | None = field(default=None, repr=False, compare=False)

    @property
    def local(self) -> bool:
        return self.runtime != "endpoint"

    def messages(self, row: dict) -> list[dict[str, str]]:
        if self.asking is not None:
            return self.asking.messages(row["prompt"], row.get("system"))
        system = "\n\n".join(s for s in (self.system, row.get("system") or "") if s)
        return chat_messages(system, self.few_shot, row["prompt"])

    def identity(self) -> str:
        """What the answer cache keys on: the model itself (its files' place and age) and how it is prompted.
        Worked out once (every answer's key uses it)."""
        if self._identity is not None:
            return self._identity
        stamp = None
        if self.path:
            p = Path(self.path)
            files = [f for f in p.iterdir() if f.is_file()] if p.is_dir() else []
            stamp = max((f.stat().st_mtime_ns for f in files), default=None)
        self._identity = json.dumps(
            {
                "path": self.path,
                "stamp": stamp,
                "adapter": self.adapter,
                "endpoint": {k: v for k, v in (self.endpoint or {}).items() if k in ("base_url", "model")},
                "deployment": self.deployment_id,
                "variant": self.variant_id,
                "labels": self.labels,
            },
            sort_keys=True,
        )
        return self._identity

    def to_json(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k not in ("asking", "_identity")}


def sample_key(target: Target, messages: list[dict], settings: dict) -> str:
    material = {"target": target.identity(), "messages": messages, **settings}
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def _recorded_size(path: Path) -> int | None:
    """The size recorded for this model folder (the same number its variant shows), else its weights' size."""
    from sqlmodel import select

    from ..db import session_scope

    with session_scope() as s:
        v = s.exec(select(ModelVariant).where(ModelVariant.artifact_path == str(path))).first()
    if v is not None and v.size_bytes:
        return v.size_bytes
    return sum(f.stat().st_size for f in path.glob("*.safetensors")) or None if path.is_dir() else None


def teacher_target(project_id: int | None, train_rows: list[dict] | None = None) -> Target:
    """The project's teacher, asked as it is for distillation: with the task's labels and, when it is set to use
    them, examples from the training part of the data being evaluated."""
    from ..projects import get_project, project_teacher
    from ..teaching import asking

    if project_id is None:
        raise ConfigError("'teacher' needs a project", "Pass the project whose teacher to evaluate (--project).")
    teacher = project_teacher(get_project(project_id))
    if teacher is None:
        raise ConfigError("The project has no teacher yet", "Choose one on the Models page.")
    ask = asking(teacher, train_rows or [])
    common = {
        "ref": TEACHER,
        "kind": "teacher",
        "system": teacher.system_prompt,
        "few_shot": teacher.few_shot,
        "labels": ask.labels,
        "asking": ask,
    }
    if teacher.provider == Provider.local:
        path = Path(teacher.local_path or "")
        name = "Teacher (prompted, on this machine)"
        size = _recorded_size(path)
        return Target(name=name, runtime="transformers", path=str(path), size_bytes=size, **common)
    name = f"Teacher ({teacher.model})"
    return Target(name=name, runtime="endpoint", endpoint=teacher.model_dump(mode="json"), **common)


def _variant(variant_id: int) -> ModelVariant:
    return get_or_raise(ModelVariant, variant_id, "Model variant", "`slmops variants` lists them.")


def variant_target(ref: str) -> Target:
    head, _, adapter_name = ref.partition(":")
    v = _variant(int(head))
    base = {"ref": ref, "variant_id": v.id, "parent_id": v.parent_id, "precision": v.precision, "path": v.artifact_path}
    adapters = (v.metrics or {}).get("adapters") or []
    if v.format == "onnx":
        if adapters and not adapter_name:
            names = ", ".join(f"{v.id}:{a['name']}" for a in adapters)
            raise ConfigError(f"{v.name} has adapters: evaluate one of them", f"Use {names}.")
        if adapter_name:
            found = next((a for a in adapters if a["name"] == adapter_name), None)
            if found is None:
                known = ", ".join(a["name"] for a in adapters) or "none"
                raise NotFoundError(f"{v.name} has no adapter '{adapter_name}'", f"Its adapters: {known}.")
            size = v.size_bytes + (Path(v.artifact_path) / found["file"]).stat().st_size
            return Target(
                name=f"{v.name} · {adapter_name}",
                kind="adapter",
                runtime="onnxruntime-genai",
                adapter={"name": found["name"], "file": found["file"]},
                size_bytes=size,
                **base,
            )
        return Target(name=v.name, kind="onnx", runtime="onnxruntime-genai", size_bytes=v.size_bytes, **base)
    if adapter_name:
        raise ConfigError(f"{v.name} is not a multi-adapter ONNX model", f"Use {v.id} alone.")
    if v.format != "hf":
        raise ConfigError(f"{v.name} cannot be evaluated ({v.format})", "Evaluate a Hugging Face or ONNX model.")
    kind = KIND_OF_STAGE.get(v.stage, v.stage)
    return Target(name=v.name, kind=kind, runtime="transformers", size_bytes=v.size_bytes or None, **base)


def deployment_target(ref: str) -> Target:
    dep = get_or_raise(Deployment, int(ref.split(":")[1]), "Deployment", "`slmops deployments` lists them.")
    if dep.status != DeploymentStatus.running:
        raise ConfigError(f"Deployment {dep.id} ({dep.name}) is {dep.status.value}", "Start it on the Deploy page.")
    v = _variant(dep.variant_id)
    endpoint = TeacherConfig(provider=Provider.openai_compatible, base_url=dep.endpoint, model=dep.model_id)
    return Target(
        ref=ref,
        name=f"{dep.name} (deployed)",
        kind="deployment",
        runtime="endpoint",
        precision=v.precision,
        endpoint=endpoint.model_dump(mode="json"),
        variant_id=v.id,
        parent_id=v.parent_id,
        size_bytes=v.size_bytes,
        deployment_id=dep.id,
    )


def resolve(ref: str, project_id: int | None, train_rows: list[dict] | None = None) -> Target:
    if ref == TEACHER:
        return teacher_target(project_id, train_rows)
    if ref.startswith("deployment:"):
        return deployment_target(ref)
    return variant_target(ref)
