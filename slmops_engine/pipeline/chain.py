"""The lifecycle as one pipeline: distil → keep the unflagged answers → fine-tune (quick) → int4 → evaluate →
deploy. A step already done in the project is not run again: the chain starts from its result (the newest
answered data, fine-tune and int4 model), so "run the rest" picks up where the operator stopped."""

from __future__ import annotations

from dataclasses import dataclass

from ..finetune.config import apply_preset
from ..models import Dataset, ModelVariant
from ..students import StudentChoice
from ..teachers import TeacherConfig
from .spec import PipelineConfig, PipelineStep


@dataclass(frozen=True)
class Done:
    """What the project already has, each the newest that follows from the one before it."""

    answered: Dataset | None = None  # the teacher's answers (stage synth) or a reviewed version (stage review)
    finetuned: ModelVariant | None = None
    int4: ModelVariant | None = None


def lifecycle_chain(
    project_id: int,
    teacher: TeacherConfig,
    student: StudentChoice,
    source: Dataset,
    done: Done = Done(),
    name: str = "Run the rest",
) -> PipelineConfig:
    steps: list[PipelineStep] = []
    data: int | str
    if done.answered is None:
        distil = {"dataset_id": source.id, "teacher": teacher.model_dump(mode="json"), "project_id": project_id}
        steps.append(PipelineStep(name="distil", kind="synth", config={**distil, "splits": ["train"]}))
    if done.finetuned is None and (done.answered is None or done.answered.stage == "synth"):
        answered = done.answered.id if done.answered else "${distil.dataset_id}"
        steps.append(PipelineStep(name="keep", kind="review", config={"dataset_id": answered}))
        data = "${keep.dataset_id}"
    else:
        data = done.answered.id  # the data the fine-tune learnt from, or answers already reviewed
    if done.finetuned is None:
        finetune = {"dataset_id": data, "student": student.model_dump(mode="json"), "project_id": project_id}
        steps.append(
            PipelineStep(name="finetune", kind="finetune", config={**finetune, **apply_preset("quick", method="lora")})
        )
        tuned, base = "${finetune.variant_id}", "${finetune.base_variant_id}"
    else:
        tuned, base = str(done.finetuned.id), str(done.finetuned.parent_id)
    if done.int4 is None:
        # auto: a LoRA fine-tune of the bundled 4-bit model keeps its base's blocks and its change (the grid route)
        int4 = {"variant_id": tuned, "precision": "int4", "int4_method": "auto"}
        steps.append(PipelineStep(name="int4", kind="convert", config=int4))
        small = "${int4.variant_id}"
    else:
        small = str(done.int4.id)
    evaluate = {"variants": ["teacher", base, tuned, small], "dataset_id": data, "project_id": project_id}
    steps.append(PipelineStep(name="evaluate", kind="evaluate", config=evaluate))
    steps.append(PipelineStep(name="deploy", kind="deploy", config={"variant_id": small}))
    return PipelineConfig(name=name, project_id=project_id, steps=steps)
