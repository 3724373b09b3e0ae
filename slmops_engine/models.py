"""SQLModel tables: projects, datasets, model variants (with lineage), jobs, metric points, deployments."""

from __future__ import annotations

from datetime import datetime, timezone
from enum import Enum
from typing import Any

from sqlalchemy import JSON, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from .identity import current_user


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(dt: datetime) -> datetime:
    """SQLite hands datetimes back without their zone; the engine always writes UTC."""
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


class JobStatus(str, Enum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobStatus.succeeded, JobStatus.failed, JobStatus.cancelled)


ACTIVE_STATUSES = (JobStatus.queued, JobStatus.running)


class Project(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=80)
    goal: str = Field(default="", max_length=500)
    # Teacher settings (TeacherConfig as JSON; never a key, only the name of the variable that holds it).
    teacher: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    # Student choice (StudentChoice as JSON).
    student: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    created_at: datetime = Field(default_factory=utcnow)


class Dataset(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    project_id: int | None = Field(default=None, foreign_key="project.id", index=True)
    name: str
    parent_id: int | None = Field(default=None, foreign_key="dataset.id")
    stage: str = Field(default="upload", description="What made it: upload, synth, review, split ...")
    path: str = ""
    n_rows: int = 0
    info: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    job_id: int | None = Field(default=None, foreign_key="job.id")
    created_at: datetime = Field(default_factory=utcnow)
    created_by: str | None = Field(
        default_factory=current_user, max_length=80, index=True, description="Who made it (see identity.py)."
    )


class ModelVariant(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    project_id: int | None = Field(default=None, foreign_key="project.id", index=True)
    name: str
    parent_id: int | None = Field(default=None, foreign_key="modelvariant.id")
    stage: str = Field(description="What made it: import, finetune, convert ...")
    format: str = Field(default="hf", description="hf, adapter, onnx")
    precision: str = Field(default="", description="bf16, fp32, int8, int4 ...")
    config: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    artifact_path: str = ""
    size_bytes: int = 0
    metrics: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    job_id: int | None = Field(default=None, foreign_key="job.id")
    created_at: datetime = Field(default_factory=utcnow)


class Job(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    project_id: int | None = Field(default=None, foreign_key="project.id", index=True)
    kind: str = Field(index=True)
    title: str = ""
    status: JobStatus = Field(default=JobStatus.queued, index=True)
    heavy: bool = True
    resumable: bool = Field(default=False, description="The stage can continue from its last checkpoint.")
    progress: float = 0.0
    message: str = ""
    eta_seconds: float | None = None
    error_label: str | None = None
    error_hint: str | None = None
    error_detail: str | None = Field(default=None, sa_column=Column(Text))
    config: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    pid: int | None = None
    host: str | None = None
    attempt: int = 1
    cancel_requested_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    heartbeat_at: datetime | None = None
    finished_at: datetime | None = None
    created_by: str | None = Field(
        default_factory=current_user, max_length=80, index=True, description="Who made it (see identity.py)."
    )


class MetricPoint(SQLModel, table=True):
    """One value of one metric at one step. (job, name, step) is unique: a resumed run overwrites, never doubles."""

    __table_args__ = (UniqueConstraint("job_id", "name", "step", name="uq_metric_job_name_step"),)
    id: int | None = Field(default=None, primary_key=True)
    job_id: int = Field(foreign_key="job.id", index=True)
    name: str
    step: int
    value: float
    ts: datetime = Field(default_factory=utcnow)


class TeacherAnswer(SQLModel, table=True):
    """One teacher answer, stored the moment it arrives. ``key`` hashes the prompt and every setting that shapes
    the answer, so a resumed or repeated run finds it and never pays for it twice."""

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(index=True, unique=True, max_length=64)
    job_id: int | None = Field(default=None, index=True)
    prompt: str = Field(sa_column=Column(Text))
    answer: str = Field(sa_column=Column(Text))
    reasoning: str | None = Field(default=None, sa_column=Column(Text))
    finish_reason: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0.0
    teacher: str = ""
    created_at: datetime = Field(default_factory=utcnow)


class DeploymentStatus(str, Enum):
    deploying = "deploying"  # asked for; the model server places and loads it
    running = "running"  # loaded and answering at its endpoint
    stopping = "stopping"  # asked to stop; the model server unloads it
    stopped = "stopped"
    failed = "failed"

    @property
    def active(self) -> bool:
        return self in (DeploymentStatus.deploying, DeploymentStatus.running)


class Deployment(SQLModel, table=True):
    """An ONNX model variant served by Foundry Local at an OpenAI-compatible endpoint. The model server process
    carries out what the status asks for (deploying → running, stopping → stopped)."""

    id: int | None = Field(default=None, primary_key=True)
    project_id: int | None = Field(default=None, foreign_key="project.id", index=True)
    variant_id: int = Field(foreign_key="modelvariant.id", index=True)
    name: str = ""
    model_id: str = Field(default="", description="The id clients send as `model` (Foundry Local's name:version).")
    status: DeploymentStatus = Field(default=DeploymentStatus.deploying, index=True)
    endpoint: str = ""
    prompt_template: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    generation: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    error_label: str | None = None
    error_hint: str | None = None
    requests: int = 0
    last_probe_ms: float | None = None
    last_probe_ok: bool | None = None
    last_probe_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    created_by: str | None = Field(
        default_factory=current_user, max_length=80, index=True, description="Who made it (see identity.py)."
    )


class ServeEvent(SQLModel, table=True):
    """One request to a deployment: a chat the app sent, or the model server's health probe."""

    id: int | None = Field(default=None, primary_key=True)
    deployment_id: int = Field(foreign_key="deployment.id", index=True)
    kind: str = Field(default="chat", description="chat or probe")
    ok: bool = True
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    tokens: int = 0
    error: str | None = None
    ts: datetime = Field(default_factory=utcnow, index=True)


class EvalSample(SQLModel, table=True):
    """One variant's answer to one evaluation prompt, stored the moment it is made. ``key`` hashes the variant, the
    prompt and every setting that shapes the answer, so a resumed or repeated evaluation never answers twice."""

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(index=True, unique=True, max_length=64)
    job_id: int | None = Field(default=None, index=True)
    target: str = Field(default="", max_length=200)
    answer: str = Field(default="", sa_column=Column(Text))
    finish_reason: str = ""
    error: str | None = Field(default=None, sa_column=Column(Text))
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    tokens: int = 0
    prompt_tokens: int = 0
    timed: bool = Field(default=False, description="Answered alone (a latency a user meets), not in a batch.")
    nll: float | None = Field(default=None, description="Negative log-likelihood of the reference answer.")
    ref_tokens: int | None = None
    peak_rss: int | None = Field(default=None, description="Peak memory of the process that generated, so far.")
    judge_key: str | None = None
    judge_score: float | None = None
    judge_reason: str | None = Field(default=None, sa_column=Column(Text))
    judge_error: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(default_factory=utcnow)


class User(SQLModel, table=True):
    """A person who may sign in to a shared dashboard (``slmops users add NAME``). Only a bcrypt hash of the
    password is stored."""

    __tablename__ = "studio_user"  # "user" is a reserved word in PostgreSQL
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=80)
    password_hash: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
