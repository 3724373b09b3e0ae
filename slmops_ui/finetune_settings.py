"""The Fine-tune page's run settings: training data, method, preset, every hyper-parameter, logit distillation,
the adapter's name, the preflight checks and Start. Plain widgets rather than a form, so the checks and the step
count follow every change."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st
from pydantic import ValidationError

from slmops_engine.data import load_dataset_dict
from slmops_engine.errors import SlmopsError
from slmops_engine.fields import field_spec, titles
from slmops_engine.finetune.config import DEFAULT_PRESET, METHOD_LABELS, PRESET_LABELS, FinetuneConfig, apply_preset
from slmops_engine.finetune.views import ANSWERED_STAGES, kd_teacher_path, resource_estimate
from slmops_engine.finetune.workload import planned_steps, training_rows
from slmops_engine.jobs.estimates import describe
from slmops_engine.models import Dataset, Project
from slmops_engine.stages.finetune import preflight
from slmops_engine.students import StudentChoice
from slmops_engine.sysinfo import system_info
from slmops_engine.teachers import TeacherConfig

from .feedback import show_error, show_validation_error
from .fields import field_widget
from .format import human_bytes
from .launch import show_issues, start_button

NO_GPU = (
    "Not available on this machine: QLoRA needs an NVIDIA GPU (CUDA) and none was found. LoRA trains the same adapters."
)

# The Advanced section's layout: which settings sit together. Each widget is built from its field in FinetuneConfig.
GROUPS: dict[str, list[str]] = {
    "How long and how much at once": ["epochs", "max_steps", "batch_size", "grad_accum", "max_length", "precision"],
    "How fast it learns": ["learning_rate", "scheduler", "warmup_ratio", "weight_decay"],
    "The adapter (LoRA, DoRA, QLoRA)": ["lora_r", "lora_alpha", "lora_dropout", "target_modules"],
    "Validation and checkpoints": ["eval_steps", "save_steps", "logging_steps", "early_stopping_patience", "seed"],
}
ADVANCED = [name for names in GROUPS.values() for name in names]
ADAPTER_FIELDS = set(GROUPS["The adapter (LoRA, DoRA, QLoRA)"])
LABELS = titles(FinetuneConfig)


def _help(name: str) -> str:
    return field_spec(FinetuneConfig, name).help


def _cast(name: str, value: Any) -> Any:
    """Session State must hold the type the widget expects (a whole-number input refuses 8.0)."""
    kind = field_spec(FinetuneConfig, name).kind
    return kind(value) if kind in (int, float) else value


def _preset_values(k: str) -> dict:
    defaults = {n: FinetuneConfig.model_fields[n].default for n in ADVANCED}
    values = apply_preset(st.session_state[f"{k}_preset"], method=st.session_state[f"{k}_method"])
    return {**defaults, **{n: v for n, v in values.items() if n in defaults}}


def _on_preset(k: str) -> None:
    for name, value in _preset_values(k).items():
        st.session_state[f"{k}_{name}"] = _cast(name, value)


def _on_method(k: str) -> None:
    # Full fine-tuning wants a 10x smaller learning rate: follow the preset's value for the new method.
    st.session_state[f"{k}_learning_rate"] = _cast("learning_rate", _preset_values(k)["learning_rate"])


def _init(k: str) -> None:
    """Widget values live in Session State (set before the widgets exist), so a preset can rewrite them."""
    st.session_state.setdefault(f"{k}_preset", DEFAULT_PRESET)
    st.session_state.setdefault(f"{k}_method", "lora")
    for name, value in _preset_values(k).items():
        st.session_state.setdefault(f"{k}_{name}", _cast(name, value))


@st.cache_data(show_spinner=False, max_entries=8)
def _validation_rows(dataset_id: int, path: str, n: int = 50) -> tuple[int, pd.DataFrame | None]:
    # Datasets are immutable: (id, folder) names one for good.
    dd = load_dataset_dict(dataset_id)
    if "validation" not in dd:
        return 0, None
    part = dd["validation"]
    frame = part.select(range(min(n, len(part)))).to_pandas()
    return len(part), frame[[c for c in ("prompt", "response") if c in frame.columns]]


def pick_dataset(project: Project, datasets: list[Dataset]) -> Dataset:
    """The training data (the newest teacher-answered dataset by default), with a look at its validation part."""
    ids = [d.id for d in datasets]
    made_by = {True: "teacher's answers", False: "your answers"}
    names = {d.id: f"#{d.id} {d.name} · {d.n_rows} rows · {made_by[d.stage in ANSWERED_STAGES]}" for d in datasets}
    key = f"ft_{project.id}_dataset"
    if st.session_state.get(key) not in ids:
        st.session_state.pop(key, None)
    pick = st.selectbox(LABELS["dataset_id"], ids, format_func=names.__getitem__, key=key, help=_help("dataset_id"))
    ds = next(d for d in datasets if d.id == pick)
    train, val = training_rows(ds)
    try:
        n_val, rows = _validation_rows(ds.id, ds.path)
    except SlmopsError as exc:
        show_error(exc)
        return ds
    if rows is None:
        st.caption(
            f"Trains on {train} examples. It has no validation part: {val} training examples are held out "
            "to measure progress (split the data on the Data page to choose them)."
        )
        return ds
    st.caption(f"Trains on {train} examples and measures progress on {n_val} validation examples it never learns.")
    with st.expander(f"The validation part ({n_val} examples)", icon=":material/fact_check:"):
        st.caption("The student never trains on these: its loss here shows whether it learns the task or memorises.")
        st.dataframe(rows, hide_index=True, width="stretch", column_config={"prompt": "Prompt", "response": "Answer"})
    return ds


def _method(k: str, has_cuda: bool) -> str:
    options = field_spec(FinetuneConfig, "method").choices
    names = {
        m: METHOD_LABELS[m].split(" — ")[0] + ("" if m != "qlora" or has_cuda else " — not available here")
        for m in options
    }
    captions = [METHOD_LABELS[m].split(" — ", 1)[1] for m in options]
    if not has_cuda:
        captions[options.index("qlora")] = f":red[{NO_GPU}]"
    return field_widget(
        FinetuneConfig,
        "method",
        key=f"{k}_method",
        widget="radio",
        format_func=names.__getitem__,
        captions=captions,
        on_change=_on_method,
        args=(k,),
    )


def _preset(k: str) -> None:
    st.radio(
        "How thoroughly",
        list(PRESET_LABELS),
        format_func=PRESET_LABELS.__getitem__,
        key=f"{k}_preset",
        on_change=_on_preset,
        args=(k,),
        help="A preset fills in the advanced settings below; change any of them afterwards.",
    )


def _advanced(k: str, method: str) -> dict:
    values: dict = {}
    with st.expander("Advanced — every setting", icon=":material/tune:"):
        st.caption("Filled in by the preset (and the method). The ? next to each one says what it does.")
        for title, names in GROUPS.items():
            st.markdown(
                f"**{title}**"
                + (" — not used by full fine-tuning" if title.startswith("The adapter") and method == "full" else "")
            )
            cols = st.columns(3)
            for i, name in enumerate(names):
                off = method == "full" and name in ADAPTER_FIELDS
                values[name] = field_widget(
                    FinetuneConfig, name, key=f"{k}_{name}", container=cols[i % 3], disabled=off
                )
    return values


def _distillation(k: str, teacher: TeacherConfig | None) -> dict:
    default = kd_teacher_path(teacher)
    on = field_widget(
        FinetuneConfig,
        "kd",
        key=f"{k}_kd",
        widget="toggle",
        disabled=default is None,
        more_help="The student then learns how sure the teacher was of each word, not only its answer.",
    )
    if default is None:
        st.caption(
            "Needs a teacher that runs on this machine (the same model family as the student). "
            "Your teacher's written answers are used either way."
        )
        return {"kd": False}
    if not on:
        return {"kd": False}
    path = field_widget(FinetuneConfig, "kd_teacher_path", key=f"{k}_kd_path", value=default)
    c1, c2 = st.columns(2)
    return {
        "kd": True,
        "kd_teacher_path": path.strip() or None,
        "kd_temperature": field_widget(FinetuneConfig, "kd_temperature", key=f"{k}_kd_t", container=c1),
        "kd_alpha": field_widget(FinetuneConfig, "kd_alpha", key=f"{k}_kd_alpha", container=c2, widget="slider"),
    }


def run_settings(
    project: Project, student: StudentChoice, teacher: TeacherConfig | None, ds: Dataset
) -> FinetuneConfig | None:
    """Every setting of a run, as a validated config (None while one is invalid)."""
    k = f"ft_{project.id}"
    _init(k)
    has_cuda = system_info().has_cuda
    c1, c2 = st.columns(2)
    with c1:
        method = _method(k, has_cuda)
    with c2:
        _preset(k)
    values = _advanced(k, method)
    values |= _distillation(k, teacher)
    c1, c2 = st.columns(2)
    adapter = field_widget(
        FinetuneConfig,
        "adapter_name",
        key=f"{k}_adapter",
        container=c1,
        disabled=method == "full",
        more_help="Give each adapter a name (e.g. 'billing', 'tone') to train several on one base.",
    )
    name = field_widget(
        FinetuneConfig,
        "output_name",
        key=f"{k}_{ds.id}_name",
        container=c2,
        placeholder="Automatic: student · method · data",
    )
    try:
        return FinetuneConfig(
            dataset_id=ds.id,
            student=student,
            project_id=project.id,
            method=method,
            adapter_name=adapter.strip() or "default",
            output_name=name.strip() or None,
            **values,
        )
    except ValidationError as exc:
        show_validation_error(exc, LABELS)
        return None


def _plan(cfg: FinetuneConfig, ds: Dataset) -> None:
    train, val = training_rows(ds)
    steps = planned_steps(cfg, ds)
    how = f"{cfg.max_steps} steps set" if cfg.max_steps else f"{cfg.epochs:g} pass{'es' if cfg.epochs != 1 else ''}"
    st.markdown(
        f"**About {steps:,} training steps** — {train:,} examples, {cfg.batch_size} per step"
        + (f" × {cfg.grad_accum} accumulated" if cfg.grad_accum > 1 else "")
        + f", {how}. Validation loss on {val:,} examples every {cfg.eval_steps} steps; "
        f"a checkpoint every {cfg.save_steps} steps."
    )
    est = resource_estimate(cfg)
    if est is not None:
        st.caption(
            f":material/schedule: Takes {describe(est.estimate)}. "
            f":material/memory: Needs about {human_bytes(est.need)} of {est.where}; {human_bytes(est.budget)} is free."
        )


def start_panel(project: Project, ds: Dataset, cfg: FinetuneConfig | None, busy: bool) -> None:
    """What the run will do, the preflight checks, and Start (disabled on errors or while a run is going)."""
    issues = preflight(cfg) if cfg else []
    if cfg:
        _plan(cfg, ds)
    blocked = show_issues(issues) or cfg is None
    if cfg and not blocked:
        st.caption(":material/check_circle: Checks passed: memory, disk space, data and tokenizer.")
    start_button(
        kind="finetune",
        cfg=cfg,
        project_id=project.id,
        key="finetune_start",
        label="Start fine-tuning",
        title=f"Fine-tune ({cfg.method}) on {ds.name}" if cfg else "",
        blocked=blocked,
        busy=busy,
        labels=LABELS,
        started="Run #{job.id} started. It goes on in the background if you leave this page.",
    )
