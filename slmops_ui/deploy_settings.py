"""The Deploy page's settings: which ONNX model, its prompt template (derived from the model, editable, previewed)
and the answer defaults; Deploy."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from slmops_engine.errors import SlmopsError
from slmops_engine.models import ModelVariant, Project
from slmops_engine.serving.deployments import deploy
from slmops_engine.serving.placement import GENERATION_DEFAULTS
from slmops_engine.serving.templates import ROLES, derive, render, validate

from .feedback import flash, show_error
from .format import human_bytes

SAMPLE = [
    {"role": "system", "content": "You route support messages."},
    {"role": "user", "content": "My card was charged twice."},
]
ROLE_HELP = {
    "system": "Wraps the system prompt (the instructions).",
    "user": "Wraps each earlier message of the user.",
    "assistant": "Wraps each earlier answer of the model.",
    "prompt": "Wraps the newest user message and opens the model's answer.",
}


def deploy_choice_key(project_id: int) -> str:
    """The session key of the model picked on the Deploy page (other pages preselect a model through it)."""
    return f"dep_{project_id}_model"


def pick_model(project: Project, variants: list[ModelVariant]) -> ModelVariant:
    ids = [v.id for v in variants]
    names = {
        v.id: f"#{v.id} {v.name} · {human_bytes(v.size_bytes)}"
        + (" · adapters (not servable)" if v.metrics.get("adapters") else "")
        for v in variants
    }
    key = deploy_choice_key(project.id)
    if st.session_state.get(key) not in ids:
        st.session_state.pop(key, None)
    pick = st.selectbox(
        "Model to deploy",
        ids,
        format_func=names.__getitem__,
        key=key,
        help="ONNX models made on the Optimize page; int4 is the usual pick for a laptop.",
    )
    return next(v for v in variants if v.id == pick)


def _template(k: str, source: ModelVariant) -> dict[str, str] | None:
    try:
        derived = derive(Path(source.artifact_path))
    except SlmopsError as exc:
        show_error(exc)
        derived = {r: "{Content}" for r in ROLES}
    with st.expander("Prompt template — derived from the model's chat template", icon=":material/data_object:"):
        st.caption(
            "How messages are wrapped before the model reads them (Foundry Local's `inference_model.json`). "
            "`{Content}` marks where the message goes. Change it only to alter the model's prompt format."
        )
        pieces = {
            r: st.text_area(r.capitalize(), derived[r], key=f"{k}_{source.id}_{r}", help=ROLE_HELP[r], height=80)
            for r in ROLES
        }
        try:
            pieces = validate(pieces)
        except SlmopsError as exc:
            show_error(exc)
            return None
        st.markdown("**Preview** — what the model reads for a short conversation:")
        st.code(render(pieces, SAMPLE), language=None, wrap_lines=True)
        if pieces != derived:
            st.caption(":material/edit: Edited: the deployment uses this template instead of the model's own.")
    return pieces


def _generation(k: str) -> dict:
    d = GENERATION_DEFAULTS
    with st.expander("Answer defaults", icon=":material/tune:"):
        c1, c2, c3, c4 = st.columns(4)
        max_length = c1.number_input(
            "Max length (tokens)",
            0,
            131072,
            0,
            step=256,
            key=f"{k}_maxlen",
            help="Prompt + answer. 0 keeps the model's own context length; smaller uses less memory.",
        )
        return {
            "max_length": int(max_length) or None,
            "temperature": c2.slider(
                "Temperature", 0.0, 2.0, d["temperature"], 0.05, key=f"{k}_temp", help="0 = always the same answer."
            ),
            "top_p": c3.slider("Top-p", 0.05, 1.0, d["top_p"], 0.05, key=f"{k}_topp", help="Nucleus sampling."),
            "repetition_penalty": c4.slider(
                "Repetition penalty",
                1.0,
                2.0,
                d["repetition_penalty"],
                0.01,
                key=f"{k}_rep",
                help="Above 1 discourages repeating words.",
            ),
        }


def deploy_panel(project: Project, source: ModelVariant) -> None:
    k = f"dep_{project.id}"
    if source.metrics.get("adapters"):
        st.warning(
            "**Foundry Local cannot load a model whose adapters are switchable inputs.** Deploy the int4 conversion "
            "of each fine-tuned model instead (one deployment per adapter); the Chat page compares them side by side.",
            icon=":material/layers:",
        )
        return
    template = _template(k, source)
    generation = _generation(k)
    if st.button(
        "Deploy",
        type="primary",
        icon=":material/rocket_launch:",
        key="deploy_start",
        disabled=template is None,
        help="Foundry Local serves it at a local OpenAI-compatible endpoint; deploying again updates it.",
    ):
        try:
            d = deploy(source.id, template=template, generation=generation, project_id=project.id)
        except SlmopsError as exc:
            show_error(exc)
            return
        flash(f"Deploying {d.name} as `{d.model_id}`: it answers in a few seconds.", "info")
        st.rerun()
