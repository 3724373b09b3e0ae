"""Teachers: any OpenAI-compatible endpoint (presets for the common ones) or a model on this machine."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .errors import ConfigError, EndpointError, SlmopsError
from .keystore import get_key, looks_like_a_key


class Provider(str, Enum):
    azure_openai = "azure_openai"
    openai = "openai"
    foundry_local = "foundry_local"
    ollama = "ollama"
    vllm = "vllm"
    openai_compatible = "openai_compatible"
    local = "local"


@dataclass(frozen=True)
class Preset:
    label: str
    base_url: str
    api_key_env: str | None
    key_required: bool
    needs_api_version: bool = False
    help: str = ""


PRESETS: dict[Provider, Preset] = {
    Provider.azure_openai: Preset(
        "Azure OpenAI / AI Foundry",
        "https://YOUR-RESOURCE.openai.azure.com",
        "AZURE_OPENAI_API_KEY",
        True,
        True,
        "The resource endpoint; the model field is your deployment name.",
    ),
    Provider.openai: Preset("OpenAI", "https://api.openai.com/v1", "OPENAI_API_KEY", True),
    Provider.foundry_local: Preset(
        "Foundry Local",
        "http://127.0.0.1:5273/v1",
        None,
        False,
        help="`foundry service status` shows the port; the model field is the model id it lists.",
    ),
    Provider.ollama: Preset("Ollama", "http://127.0.0.1:11434/v1", None, False, help="e.g. model `llama3.2:1b`."),
    Provider.vllm: Preset("vLLM", "http://127.0.0.1:8000/v1", "VLLM_API_KEY", False),
    Provider.openai_compatible: Preset("Any OpenAI-compatible URL", "http://127.0.0.1:8080/v1", None, False),
    Provider.local: Preset(
        "A model on this machine",
        "",
        None,
        False,
        help="Runs here with transformers: the bundled model prompted with the project's instructions.",
    ),
}

DEFAULT_AZURE_API_VERSION = "2024-10-21"


class TeacherConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())
    provider: Provider = Field(description="Which kind of endpoint the teacher is.")
    base_url: str = Field("", max_length=500, description="Endpoint URL (Azure: the resource URL).")
    model: str = Field("", max_length=200, description="Model name, or the deployment name on Azure.")
    api_version: str | None = Field(None, max_length=40, description="Azure OpenAI API version.")
    api_key_env: str | None = Field(
        None,
        max_length=100,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Name of the environment variable that holds the API key (the key itself is never stored).",
    )
    local_path: str | None = Field(None, description="Model folder, for a teacher on this machine.")
    system_prompt: str = Field("", max_length=20_000, description="Instructions the teacher always gets.")
    few_shot: list[dict[str, str]] = Field(
        default_factory=list, description="Example exchanges shown to the teacher: [{'user': ..., 'assistant': ...}]"
    )
    labels: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="The allowed answers of a labelled task (empty: the data's own labels, if it has them). The "
        "request states them and the answer is one of them.",
    )
    example_shots: int = Field(
        0,
        ge=0,
        le=16,
        description="Labelled examples from the training part shown with each prompt, the most similar first "
        "(0 = none).",
    )

    @field_validator("api_key_env", mode="before")
    @classmethod
    def _a_name_not_a_key(cls, value: Any) -> Any:
        if isinstance(value, str) and looks_like_a_key(value.strip()):
            raise ValueError("this looks like the key itself: give the name of the variable that holds it")
        return value

    @model_validator(mode="after")
    def _complete(self) -> TeacherConfig:
        if self.provider == Provider.local:
            if not self.local_path:
                raise ValueError("a teacher on this machine needs local_path")
        else:
            if not self.base_url.startswith(("http://", "https://")):
                raise ValueError("base_url must start with http:// or https://")
            if not self.model:
                raise ValueError("model (or deployment name) is required")
        return self

    @classmethod
    def from_preset(cls, provider: Provider, **overrides: Any) -> TeacherConfig:
        p = PRESETS[provider]
        values: dict[str, Any] = {"provider": provider, "base_url": p.base_url, "api_key_env": p.api_key_env}
        if p.needs_api_version:
            values["api_version"] = DEFAULT_AZURE_API_VERSION
        values.update(overrides)
        return cls(**values)


def chat_messages(system: str, few_shot: list[dict[str, str]], prompt: str) -> list[dict[str, str]]:
    """The conversation a teacher gets: its instructions, its example exchanges, then the prompt."""
    msgs = [{"role": "system", "content": system}] if system else []
    for shot in few_shot:
        msgs += [
            {"role": "user", "content": shot.get("user", "")},
            {"role": "assistant", "content": shot.get("assistant", "")},
        ]
    return msgs + [{"role": "user", "content": prompt}]


def api_key(cfg: TeacherConfig) -> str | None:
    """The key from the named environment variable (or the OS keyring); a clear error if it is required and absent."""
    preset = PRESETS[cfg.provider]
    if not cfg.api_key_env:
        if preset.key_required:
            raise ConfigError(
                "No API key variable named",
                f"Set the name of the variable that holds the key for {preset.label} (e.g. {preset.api_key_env}).",
            )
        return None
    key = os.environ.get(cfg.api_key_env)
    if not key:
        key = get_key(cfg.api_key_env)
    if not key and not key_optional(cfg.provider, cfg.api_key_env):
        raise ConfigError(
            f"The environment variable {cfg.api_key_env} is not set",
            f"Keep the key in the keyring with `slmops keys set {cfg.api_key_env}` (or on the Models page), or "
            f"export it before starting the app and its jobs (`export {cfg.api_key_env}=...`).",
        )
    return key


def key_optional(provider: Provider, var_name: str | None) -> bool:
    """Whether a teacher may run without the key variable it names. A variable the operator named is needed (an
    endpoint that wants the key would fail later, or answer without the operator's account); only a provider's own
    optional default may stay unset (vLLM runs without a key)."""
    preset = PRESETS[provider]
    return not var_name or (not preset.key_required and var_name == preset.api_key_env)


def key_available(var_name: str) -> bool:
    """Whether the named variable (or the OS keyring under that name) holds a key; the value is never returned."""
    return bool(os.environ.get(var_name) or get_key(var_name))


def make_client(cfg: TeacherConfig, *, timeout: float = 60.0, max_retries: int = 0, use_async: bool = False):
    """An openai client for the teacher: AzureOpenAI for Azure endpoints, OpenAI for everything else."""
    import openai

    key = api_key(cfg)
    if cfg.provider == Provider.azure_openai:
        cls = openai.AsyncAzureOpenAI if use_async else openai.AzureOpenAI
        return cls(
            azure_endpoint=cfg.base_url,
            api_key=key,
            api_version=cfg.api_version or DEFAULT_AZURE_API_VERSION,
            timeout=timeout,
            max_retries=max_retries,
        )
    cls = openai.AsyncOpenAI if use_async else openai.OpenAI
    # Local servers (Ollama, vLLM, Foundry Local) accept any key; the client insists on one.
    return cls(base_url=cfg.base_url, api_key=key or "not-needed", timeout=timeout, max_retries=max_retries)


@dataclass
class ConnectionResult:
    ok: bool
    message: str
    hint: str = ""
    latency_ms: float | None = None
    reply: str = ""


def _reach_hint(cfg: TeacherConfig) -> str:
    start = {
        Provider.ollama: " (start it with `ollama serve`)",
        Provider.foundry_local: " (start it with `foundry service start`)",
    }.get(cfg.provider, "")
    return f"Check the URL and port, and that the server is running{start}. Nothing was paid for."


def endpoint_error(exc: Exception, cfg: TeacherConfig) -> EndpointError:
    """Translate an openai exception into a plain-language label and hint, with any known key blanked out (an
    endpoint may repeat the key in its error)."""
    from .secrets import redact

    err = _endpoint_error(exc, cfg)
    names = (cfg.api_key_env,) if cfg.api_key_env else ()
    return EndpointError(redact(err.message, names) or "", redact(err.hint, names) or "")


def _endpoint_error(exc: Exception, cfg: TeacherConfig) -> EndpointError:
    import openai

    where = cfg.base_url
    if isinstance(exc, openai.APITimeoutError):
        return EndpointError(
            f"{where} did not answer in time",
            "Check the server is running and not overloaded; raise the request timeout for slow models.",
        )
    if isinstance(exc, openai.APIConnectionError):
        return EndpointError(f"Cannot reach {where}", _reach_hint(cfg))
    if isinstance(exc, openai.AuthenticationError):
        return EndpointError(
            "The endpoint refused the API key (401)",
            f"Check the key in {cfg.api_key_env or 'the key variable'}; it may be wrong or expired.",
        )
    if isinstance(exc, openai.PermissionDeniedError):
        return EndpointError("The key may not use this model (403)", "Check the key's permissions or the deployment.")
    if isinstance(exc, openai.NotFoundError):
        what = "deployment" if cfg.provider == Provider.azure_openai else "model"
        return EndpointError(
            f"The {what} '{cfg.model}' was not found (404)",
            f"Check the {what} name{' and the API version' if what == 'deployment' else ''}; "
            "the endpoint's model list shows what it serves.",
        )
    if isinstance(exc, openai.RateLimitError):
        return EndpointError("The endpoint is rate limiting (429)", "Wait a moment, or lower concurrency.")
    if isinstance(exc, openai.APIStatusError):
        return EndpointError(f"The endpoint answered with an error ({exc.status_code})", str(exc.message)[:300])
    return EndpointError(f"Unexpected answer from {where}: {exc}", "Check that it is an OpenAI-compatible endpoint.")


def check_connection(cfg: TeacherConfig, timeout: float = 15.0) -> ConnectionResult:
    """One real, minimal request (a one-token chat completion); latency or a plain-language error."""
    if cfg.provider == Provider.local:
        from .model_folder import inspect_model_folder

        try:
            info = inspect_model_folder(cfg.local_path or "")
        except SlmopsError as exc:
            return ConnectionResult(False, exc.message, exc.hint)
        return ConnectionResult(True, f"Model folder ready ({info.model_type}, {info.n_params / 1e6:.0f}M parameters)")
    try:
        client = make_client(cfg, timeout=timeout)
    except ConfigError as exc:
        return ConnectionResult(False, exc.message, exc.hint)
    t0 = time.perf_counter()
    try:
        resp = client.chat.completions.create(
            model=cfg.model, messages=[{"role": "user", "content": "Reply with OK."}], max_tokens=1, temperature=0
        )
    except Exception as exc:  # noqa: BLE001 - every failure becomes a plain-language result
        err = endpoint_error(exc, cfg)
        return ConnectionResult(False, err.message, err.hint)
    latency = (time.perf_counter() - t0) * 1000
    reply = ""
    if getattr(resp, "choices", None):
        reply = resp.choices[0].message.content or ""
    return ConnectionResult(True, f"Connected to {cfg.model} in {latency:.0f} ms", latency_ms=latency, reply=reply)
