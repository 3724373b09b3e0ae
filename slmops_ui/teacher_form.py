"""The teacher form: a preset, the endpoint fields it needs, save and a real connection test."""

from __future__ import annotations

from typing import Any

import streamlit as st
from pydantic import ValidationError

from slmops_engine.bundled import bundled_model_path
from slmops_engine.models import Project
from slmops_engine.projects import project_teacher, set_teacher
from slmops_engine.teachers import (
    DEFAULT_AZURE_API_VERSION,
    PRESETS,
    Provider,
    TeacherConfig,
    check_connection,
    key_available,
    key_optional,
)

from .feedback import flash, models_scope, show_failure, show_validation_error, widget_key

LABELS = {
    "provider": "Teacher type",
    "base_url": "Base URL",
    "model": "Model name",
    "api_version": "API version",
    "api_key_env": "Name of the API key variable",
    "local_path": "Model folder on this machine",
    "system_prompt": "System prompt",
    "labels": "Allowed answers",
    "example_shots": "Examples from your data per prompt",
}


def field_help(name: str) -> str:
    return TeacherConfig.model_fields[name].description or ""


def _key_status(var: str, provider: Provider) -> None:
    """Whether the key variable is set in this app's environment; the value is never shown."""
    preset = PRESETS[provider]
    if not var:
        if preset.key_required:
            st.warning(f"{preset.label} needs an API key: enter the name of the variable that holds it.")
        else:
            st.caption("No API key needed.")
    elif key_available(var):
        st.caption(f":material/check_circle: `{var}` is set (environment or keyring).")
    elif key_optional(provider, var):
        st.caption(f"`{var}` is not set: {preset.label} also runs without a key.")
    else:
        st.warning(
            f"`{var}` is not set: the teacher's jobs will not run without it. Keep the key in this machine's "
            f"keyring (below the form), or export it before starting the app (`export {var}=...`)."
        )


def _keep_in_keyring(var: str) -> None:
    """The key typed once, kept in the OS keyring under the variable's name (never in the project)."""
    from slmops_engine.errors import SlmopsError
    from slmops_engine.keystore import store_key

    with st.popover(f"Keep {var} in the keyring", icon=":material/key:"):
        value = st.text_input(f"{var}", type="password", key=f"keyring_value_{var}")
        if st.button("Keep it", key=f"keyring_keep_{var}", disabled=not value):
            try:
                store_key(var, value)
            except SlmopsError as exc:
                st.error(f"{exc.message}. {exc.hint}")
            else:
                st.session_state.pop(f"keyring_value_{var}", None)
                st.rerun()


def _fields(provider: Provider, saved: TeacherConfig | None, key: str) -> dict[str, Any]:
    preset = PRESETS[provider]
    base = saved if saved and saved.provider == provider else None
    values: dict[str, Any] = {"provider": provider}
    if provider == Provider.local:
        default = base.local_path if base else str(bundled_model_path() or "")
        values["local_path"] = st.text_input(
            LABELS["local_path"], value=default, help=field_help("local_path"), key=f"{key}_local_path"
        ).strip()
    else:
        url_label = "Endpoint (resource URL)" if provider == Provider.azure_openai else LABELS["base_url"]
        values["base_url"] = st.text_input(
            url_label, value=base.base_url if base else preset.base_url, help=field_help("base_url"), key=f"{key}_url"
        ).strip()
        model_label = "Deployment name" if provider == Provider.azure_openai else LABELS["model"]
        values["model"] = st.text_input(
            model_label, value=base.model if base else "", help=field_help("model"), key=f"{key}_model"
        ).strip()
        if preset.needs_api_version:
            values["api_version"] = st.text_input(
                LABELS["api_version"],
                value=(base.api_version if base else None) or DEFAULT_AZURE_API_VERSION,
                help=field_help("api_version"),
                key=f"{key}_api_version",
            ).strip()
        var = st.text_input(
            LABELS["api_key_env"],
            value=(base.api_key_env if base else preset.api_key_env) or "",
            placeholder=preset.api_key_env or "e.g. MY_ENDPOINT_KEY",
            help=field_help("api_key_env") + " Enter the variable's name, e.g. OPENAI_API_KEY — never the key.",
            key=f"{key}_key_env",
        ).strip()
        values["api_key_env"] = var or None
        _key_status(var, provider)
    values["system_prompt"] = st.text_area(
        LABELS["system_prompt"],
        value=saved.system_prompt if saved else "",
        placeholder="e.g. You route customer messages. Answer with exactly one word: billing, technical or sales.",
        help=field_help("system_prompt"),
        key=f"{key}_system_prompt",
        height=110,
    )
    task, shots = st.columns([3, 2])
    labels = task.text_input(
        LABELS["labels"],
        value=", ".join(saved.labels) if saved else "",
        placeholder="empty: your data's labels, if it has them",
        help=field_help("labels") + " Comma-separated, e.g. billing, account, technical, shipping.",
        key=f"{key}_labels",
    )
    values["labels"] = [x.strip() for x in labels.split(",") if x.strip()]
    values["example_shots"] = shots.number_input(
        LABELS["example_shots"],
        0,
        16,
        value=saved.example_shots if saved else (4 if provider == Provider.local else 0),
        help=field_help("example_shots") + " A small model on this machine needs them: 4 is a good start.",
        key=f"{key}_example_shots",
    )
    return values


def teacher_form(project: Project) -> None:
    """Choose and configure the project's teacher; save it or test the connection."""
    saved = project_teacher(project)
    providers = list(Provider)
    provider = st.selectbox(
        LABELS["provider"],
        providers,
        index=providers.index(saved.provider) if saved else None,
        format_func=lambda p: PRESETS[p].label,
        placeholder="Choose where the teacher runs",
        help=field_help("provider"),
        key=widget_key(f"teacher_provider_{project.id}", models_scope(project.id)),
    )
    if provider is None:  # nothing chosen yet: no form, and no warning about a key nobody asked for
        st.caption(
            "A hosted model (Azure OpenAI / AI Foundry, OpenAI), a server on this machine (Foundry Local, Ollama, "
            "vLLM) or a model folder answered in the app. With nothing to connect to, the offline demo pair above "
            "sets a teacher and a student in one click."
        )
        return
    if PRESETS[provider].help:
        st.caption(PRESETS[provider].help)
    key = widget_key(f"teacher_{project.id}_{provider.value}", models_scope(project.id))
    with st.form(key, border=False):
        values = _fields(provider, saved, key)
        with st.container(horizontal=True):
            save = st.form_submit_button("Save teacher", type="primary", icon=":material/save:")
            test = st.form_submit_button("Test connection", icon=":material/network_check:")
    var = values.get("api_key_env")
    if var and not key_available(var) and not key_optional(provider, var):
        _keep_in_keyring(var)
    if not (save or test):
        return
    try:
        cfg = TeacherConfig(**values, few_shot=saved.few_shot if saved else [])
    except ValidationError as exc:
        show_validation_error(exc, LABELS)
        return
    if test:
        with st.spinner("Asking the teacher for a one-word answer…"):
            result = check_connection(cfg)
        if result.ok:
            st.success(result.message, icon=":material/check_circle:")
        else:
            show_failure(result.message, result.hint)
    if save:
        set_teacher(project.id, cfg)
        flash(f"Teacher saved: {PRESETS[provider].label}" + (f" · {cfg.model}" if cfg.model else ""))
        st.rerun()
