"""Projects and their lifecycle checklist (derived from the database, never stored twice)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, func, select

from .db import session_scope
from .errors import ConfigError, NotFoundError
from .models import Dataset, Deployment, Job, JobStatus, ModelVariant, Project
from .students import StudentChoice
from .teachers import TeacherConfig


def create_project(name: str, goal: str = "") -> Project:
    name = name.strip()
    if not name:
        raise ConfigError("A project needs a name", "Give it a short name, e.g. 'support-router'.")
    if len(name) > 80:
        raise ConfigError("The project name is too long", "Use at most 80 characters.")
    try:
        with session_scope() as s:
            p = Project(name=name, goal=goal.strip()[:500])
            s.add(p)
        return p
    except IntegrityError as exc:
        raise ConfigError(f"A project named '{name}' already exists", "Choose another name or select it.") from exc


def list_projects() -> list[Project]:
    with session_scope() as s:
        return list(s.exec(select(Project).order_by(col(Project.id).desc())).all())


def get_project(ref: int | str) -> Project:
    with session_scope() as s:
        if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
            p = s.get(Project, int(ref))
        else:
            p = s.exec(select(Project).where(Project.name == ref)).first()
        if p is None:
            raise NotFoundError(f"No project '{ref}'", "List projects with `slmops projects list`.")
        return p


def set_teacher(project_id: int, teacher: TeacherConfig) -> Project:
    return _update(project_id, teacher=teacher.model_dump(mode="json"))


def set_student(project_id: int, student: StudentChoice) -> Project:
    return _update(project_id, student=student.model_dump(mode="json"))


def _update(project_id: int, **fields) -> Project:
    with session_scope() as s:
        p = s.get(Project, project_id)
        if p is None:
            raise NotFoundError(f"No project {project_id}")
        for k, v in fields.items():
            setattr(p, k, v)
        s.add(p)
        return p


def project_teacher(p: Project) -> TeacherConfig | None:
    return TeacherConfig.model_validate(p.teacher) if p.teacher else None


def project_student(p: Project) -> StudentChoice | None:
    return StudentChoice.model_validate(p.student) if p.student else None


def student_folder(p: Project) -> Path | None:
    """The project's student as a folder on this machine, or None when not chosen or not available here."""
    from .errors import SlmopsError
    from .students import resolve_student

    student = project_student(p)
    if student is None:
        return None
    try:
        return resolve_student(student)
    except SlmopsError:
        return None


@dataclass
class Step:
    key: str
    title: str
    done: bool
    detail: str


def lifecycle(project_id: int) -> list[Step]:
    """Which lifecycle steps this project has done, in wizard order."""
    p = get_project(project_id)
    with session_scope() as s:

        def n_datasets(*stages: str) -> int:
            q = select(func.count()).select_from(Dataset).where(Dataset.project_id == project_id)
            return s.exec(q.where(col(Dataset.stage).in_(stages))).one()

        def n_variants(stage: str) -> int:
            q = select(func.count()).select_from(ModelVariant)
            return s.exec(q.where(ModelVariant.project_id == project_id, ModelVariant.stage == stage)).one()

        def n_jobs(kind: str) -> int:
            q = select(func.count()).select_from(Job)
            return s.exec(
                q.where(Job.project_id == project_id, Job.kind == kind, Job.status == JobStatus.succeeded)
            ).one()

        counts = {
            "data": n_datasets("upload", "sample"),
            "distill": n_datasets("synth", "review"),
            "finetune": n_variants("finetune"),
            "optimize": n_variants("convert"),
            "deploy": s.exec(
                select(func.count()).select_from(Deployment).where(Deployment.project_id == project_id)
            ).one(),
            "evaluate": n_jobs("evaluate"),
        }
    teacher, student = project_teacher(p), project_student(p)
    models_detail = " · ".join(
        x
        for x in (
            f"teacher: {teacher.model or teacher.provider.value}" if teacher else "no teacher",
            f"student: {student.label}" if student else "no student",
        )
        if x
    )
    return [
        Step("models", "Choose teacher and student", bool(teacher and student), models_detail),
        Step("data", "Upload data", counts["data"] > 0, f"{counts['data']} dataset(s)"),
        Step("distill", "Distill (teacher answers)", counts["distill"] > 0, f"{counts['distill']} dataset(s)"),
        Step("finetune", "Fine-tune the student", counts["finetune"] > 0, f"{counts['finetune']} model(s)"),
        Step("optimize", "Convert and quantize", counts["optimize"] > 0, f"{counts['optimize']} variant(s)"),
        Step("evaluate", "Evaluate and compare", counts["evaluate"] > 0, f"{counts['evaluate']} evaluation(s)"),
        Step("deploy", "Deploy to Foundry Local", counts["deploy"] > 0, f"{counts['deploy']} deployment(s)"),
    ]
