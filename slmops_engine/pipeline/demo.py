"""The offline demo as a built-in pipeline: the demo pair (the bundled SmolLM2 prompted as a task-aware teacher,
the same model as the student), the Brightwave sample, then distil → fine-tune (quick) → int4 → evaluate →
deploy. Measured on 2 cores (bench/demo_outcome.py): about 6 minutes, route accuracy 2.5% → 80% for the int4
student against the teacher's 74%."""

from __future__ import annotations

from ..errors import ModelLoadError
from ..models import Dataset
from ..students import StudentChoice
from ..teachers import Provider, TeacherConfig
from .chain import lifecycle_chain
from .spec import PipelineConfig

DEMO_SHOTS = 4
DEMO_PROMPT = "You are a careful assistant. Follow the task exactly and answer briefly, in the format asked for."


def demo_teacher(path: str, goal: str, system_prompt: str = "") -> TeacherConfig:
    """The bundled model prompted with the project's instructions and 4 examples from the data for each prompt."""
    system = system_prompt or (f"{DEMO_PROMPT} Task: {goal}" if goal else DEMO_PROMPT)
    return TeacherConfig(provider=Provider.local, local_path=path, system_prompt=system, example_shots=DEMO_SHOTS)


def demo_pair(project_id: int, keep_chosen: bool = False) -> tuple[TeacherConfig, StudentChoice]:
    """The bundled model as the project's teacher and student (with ``keep_chosen``, only where none is chosen);
    nothing is saved."""
    from ..bundled import bundled_variant
    from ..projects import get_project, project_student, project_teacher
    from ..students import bundled_choice

    project = get_project(project_id)
    teacher, student = project_teacher(project), project_student(project)
    if not (keep_chosen and teacher):
        variant = bundled_variant()
        if variant is None:
            raise ModelLoadError(
                "The bundled model is not prepared yet", "`slmops models prepare-demo` (about a minute)."
            )
        keep = teacher.system_prompt if teacher else ""  # instructions the operator already wrote are kept
        teacher = demo_teacher(variant.artifact_path, project.goal, keep)
    if not (keep_chosen and student):
        student = bundled_choice()
    return teacher, student


def set_demo_pair(project_id: int, keep_chosen: bool = False) -> tuple[TeacherConfig, StudentChoice]:
    """Save :func:`demo_pair` as the project's teacher and student."""
    from ..projects import set_student, set_teacher

    teacher, student = demo_pair(project_id, keep_chosen)
    set_teacher(project_id, teacher)
    set_student(project_id, student)
    return teacher, student


def sample_dataset(project_id: int) -> Dataset:
    """The project's copy of the sample, loaded once."""
    from ..data import import_sample, list_datasets

    found = [d for d in list_datasets(project_id) if d.stage == "sample"]
    return found[-1] if found else import_sample(project_id)


def demo_pipeline(project_id: int) -> PipelineConfig:
    """The whole chain for this project, the demo pair set and the sample loaded first."""
    teacher, student = set_demo_pair(project_id)
    return lifecycle_chain(project_id, teacher, student, sample_dataset(project_id), name="Offline demo")
