"""'Run the rest for me': the lifecycle steps a project has not done yet, as one pipeline with the current
defaults. The project's own teacher, student and newest data are used; what is missing is filled in with the
offline demo's (the bundled model as teacher and student, the sample as data)."""

from __future__ import annotations

from ..data import list_datasets
from ..models import Dataset
from ..synth.views import answered_datasets, prompt_datasets
from ..variants import list_variants
from .chain import Done, lifecycle_chain
from .spec import PipelineConfig

# The demo pair on the sample, 2 cores, run from Home with the dashboard open in a browser (seconds per step;
# headless, bench/demo_outcome.py, the chain takes about three quarters of this).
# The int4 step keeps the 4-bit base and the LoRA change (the grid route): 13 s headless, against 8 s for plain int4.
DEMO_STEP_SECONDS = {"distil": 129, "keep": 2, "finetune": 209, "int4": 14, "evaluate": 114, "deploy": 5}


def _descends(d: Dataset, root: Dataset, by_id: dict[int, Dataset]) -> bool:
    while d is not None:
        if d.id == root.id:
            return True
        d = by_id.get(d.parent_id) if d.parent_id else None
    return False


def progress(project_id: int, source: Dataset) -> Done:
    """The newest answers made from ``source``, the newest fine-tune on them, its newest int4 conversion."""
    datasets = list_datasets(project_id)
    by_id = {d.id: d for d in datasets}
    answered = next((d for d in answered_datasets(datasets) if _descends(d, source, by_id)), None)
    if answered is None:
        return Done()
    tuned = next((v for v in list_variants(project_id, "finetune") if v.config.get("dataset_id") == answered.id), None)
    if tuned is None:
        return Done(answered)
    small = next(
        (v for v in list_variants(project_id, "convert") if v.parent_id == tuned.id and v.precision == "int4"), None
    )
    return Done(answered, tuned, small)


def source_dataset(project_id: int) -> Dataset | None:
    """The operator's newest data with prompts (an upload, the sample or a split of one)."""
    found = prompt_datasets(list_datasets(project_id))
    return found[0] if found else None


def rest_pipeline(project_id: int, save: bool = True) -> PipelineConfig:
    """The steps still to do for this project, the demo pair and the sample filled in where it has none (saved in
    the project with ``save``; without it nothing changes, for a preview)."""
    from .demo import demo_pair, sample_dataset, set_demo_pair

    teacher, student = (set_demo_pair if save else demo_pair)(project_id, keep_chosen=True)
    source = source_dataset(project_id)
    if source is None:
        source = sample_dataset(project_id) if save else Dataset(name="the sample")
    done = progress(project_id, source) if source.id is not None else Done()
    return lifecycle_chain(project_id, teacher, student, source, done)


def demo_seconds(cfg: PipelineConfig) -> float:
    """How long the chain's steps took the demo pair on the sample on a 2-core laptop."""
    return float(sum(DEMO_STEP_SECONDS.get(s.name, 0) for s in cfg.steps))
