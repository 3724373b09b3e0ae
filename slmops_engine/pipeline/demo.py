"""The offline demo as a built-in pipeline: the demo pair (the bundled SmolLM2 prompted as a task-aware teacher,
the same model as the student), the Brightwave sample, then distil → fine-tune (quick) → int4 → evaluate →
deploy. Measured on 2 cores (bench/demo_outcome.py): about 6 minutes, route accuracy 2.5% → 80% for the int4
student against the teacher's 74%."""

from __future__ import annotations

from ..errors import ModelLoadError
from ..finetune.config import apply_preset
from ..models import Dataset
from ..teachers import Provider, TeacherConfig
from .spec import PipelineConfig, PipelineStep

DEMO_SHOTS = 4
DEMO_PROMPT = "You are a careful assistant. Follow the task exactly and answer briefly, in the format asked for."
ESTIMATE_MINUTES = 6


def demo_teacher(path: str, goal: str, system_prompt: str = "") -> TeacherConfig:
    """The bundled model prompted with the project's instructions and 4 examples from the data for each prompt."""
    system = system_prompt or (f"{DEMO_PROMPT} Task: {goal}" if goal else DEMO_PROMPT)
    return TeacherConfig(provider=Provider.local, local_path=path, system_prompt=system, example_shots=DEMO_SHOTS)


def set_demo_pair(project_id: int) -> TeacherConfig:
    from ..projects import get_project, project_teacher, set_student, set_teacher
    from ..stages.prepare_model import bundled_variant
    from ..students import bundled_choice

    variant = bundled_variant()
    if variant is None:
        raise ModelLoadError("The bundled model is not prepared yet", "`slmops models prepare-demo` (about 30 s).")
    project = get_project(project_id)
    saved = project_teacher(project)
    keep = saved.system_prompt if saved else ""  # instructions the operator already wrote are kept
    teacher = demo_teacher(variant.artifact_path, project.goal, keep)
    set_teacher(project_id, teacher)
    set_student(project_id, bundled_choice())
    return teacher


def sample_dataset(project_id: int) -> Dataset:
    """The project's copy of the sample, loaded once."""
    from ..data import import_sample, list_datasets

    found = [d for d in list_datasets(project_id) if d.stage == "sample"]
    return found[-1] if found else import_sample(project_id)


def demo_pipeline(project_id: int) -> PipelineConfig:
    """The chain for this project (the demo pair set and the sample loaded first)."""
    from ..stages.prepare_model import bundled_variant
    from ..students import bundled_choice

    teacher = set_demo_pair(project_id)
    data = sample_dataset(project_id)
    base = bundled_variant()
    finetune = {"dataset_id": "${distil.dataset_id}", "student": bundled_choice().model_dump(mode="json")}
    finetune |= {"project_id": project_id, **apply_preset("quick", method="lora")}
    steps = [
        PipelineStep(
            name="distil",
            kind="synth",
            config={
                "dataset_id": data.id,
                "teacher": teacher.model_dump(mode="json"),
                "project_id": project_id,
                "splits": ["train"],
            },
        ),
        PipelineStep(name="finetune", kind="finetune", config=finetune),
        PipelineStep(name="int4", kind="convert", config={"variant_id": "${finetune.variant_id}", "precision": "int4"}),
        PipelineStep(
            name="evaluate",
            kind="evaluate",
            config={
                "variants": ["teacher", str(base.id), "${finetune.variant_id}", "${int4.variant_id}"],
                "dataset_id": "${distil.dataset_id}",
                "project_id": project_id,
            },
        ),
        PipelineStep(name="deploy", kind="deploy", config={"variant_id": "${int4.variant_id}"}),
    ]
    return PipelineConfig(name="Offline demo", project_id=project_id, steps=steps)
