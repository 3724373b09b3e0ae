"""Teacher settings and "Test connection" against a real OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import inspect
import socket
import time

import pytest
from pydantic import ValidationError

from slmops_engine.teachers import PRESETS, Provider, TeacherConfig, api_key, check_connection
from tests.support.openai_server import Behaviour


def _cfg(server, **kw) -> TeacherConfig:
    return TeacherConfig(provider=Provider.openai_compatible, base_url=server.url, model="teacher-model", **kw)


def test_presets_cover_the_common_endpoints():
    assert set(PRESETS) == set(Provider)
    azure = TeacherConfig.from_preset(Provider.azure_openai, base_url="https://x.openai.azure.com", model="gpt-4o")
    assert azure.api_version and azure.api_key_env == "AZURE_OPENAI_API_KEY"
    ollama = TeacherConfig.from_preset(Provider.ollama, model="llama3.2:1b")
    assert ollama.base_url == "http://127.0.0.1:11434/v1" and ollama.api_key_env is None


def test_connection_ok_reports_latency(teacher_server):
    res = check_connection(_cfg(teacher_server))
    assert res.ok, res.message
    assert res.latency_ms is not None and res.latency_ms > 0
    req = teacher_server.requests[-1]
    assert req.body["max_tokens"] == 1 and req.body["model"] == "teacher-model"


def test_key_comes_from_named_variable_and_wrong_key_is_401(teacher_server, monkeypatch):
    teacher_server.behaviour = Behaviour(api_key="s3cret")
    monkeypatch.setenv("MY_TEACHER_KEY", "s3cret")
    assert check_connection(_cfg(teacher_server, api_key_env="MY_TEACHER_KEY")).ok
    assert teacher_server.requests[-1].headers["authorization"] == "Bearer s3cret"
    monkeypatch.setenv("MY_TEACHER_KEY", "wrong")
    res = check_connection(_cfg(teacher_server, api_key_env="MY_TEACHER_KEY"))
    assert not res.ok and "401" in res.message and "MY_TEACHER_KEY" in res.hint
    # The key never ends up in the stored settings.
    assert "s3cret" not in _cfg(teacher_server, api_key_env="MY_TEACHER_KEY").model_dump_json()


def test_unknown_model_is_a_404_with_a_hint(teacher_server):
    res = check_connection(TeacherConfig(provider=Provider.vllm, base_url=teacher_server.url, model="nope"))
    assert not res.ok and "'nope' was not found (404)" in res.message


def test_unreachable_endpoint_fails_fast():
    import openai  # noqa: F401 - imported before the clock starts: a first import takes seconds on a slow machine

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket closes
    t0 = time.monotonic()
    res = check_connection(TeacherConfig(provider=Provider.ollama, base_url=f"http://127.0.0.1:{port}/v1", model="m"))
    assert not res.ok and res.message.startswith("Cannot reach")
    # a refused connection is reported at once (milliseconds): the bound catches a hang, not a slow machine
    assert time.monotonic() - t0 < 30


def test_hanging_endpoint_times_out(teacher_server):
    import openai  # noqa: F401 - imported before the clock starts: a first import takes seconds on a slow machine

    teacher_server.behaviour = Behaviour(hang=True)
    t0 = time.monotonic()
    res = check_connection(_cfg(teacher_server), timeout=1.0)
    assert not res.ok and "did not answer in time" in res.message
    # The 1 s given was applied, not the default (which would take at least its 15 s) ...
    assert time.monotonic() - t0 < inspect.signature(check_connection).parameters["timeout"].default
    teacher_server.wait_held(1)
    assert teacher_server.held == 1  # ... and the request was not retried (a retry would hang here too)


def test_required_key_missing_is_explained_before_any_request(teacher_server, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    cfg = TeacherConfig.from_preset(Provider.openai, base_url=teacher_server.url, model="teacher-model")
    res = check_connection(cfg)
    assert not res.ok and "OPENAI_API_KEY is not set" in res.message
    assert teacher_server.requests == []
    with pytest.raises(Exception, match="OPENAI_API_KEY"):
        api_key(cfg)


def test_azure_uses_deployment_route_and_api_version(teacher_server, monkeypatch):
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "k")
    cfg = TeacherConfig.from_preset(Provider.azure_openai, base_url=teacher_server.root, model="my-deployment")
    res = check_connection(cfg)
    assert res.ok, res.message
    req = teacher_server.requests[-1]
    assert "/openai/deployments/my-deployment/chat/completions" in req.path
    assert f"api-version={cfg.api_version}" in req.path
    assert req.headers.get("api-key") == "k"


def test_invalid_settings_are_refused():
    with pytest.raises(ValidationError, match="base_url"):
        TeacherConfig(provider=Provider.openai, base_url="ftp://x", model="m")
    with pytest.raises(ValidationError, match="api_key_env"):
        TeacherConfig(provider=Provider.openai, base_url="https://x", model="m", api_key_env="not a name")
    with pytest.raises(ValidationError, match="local_path"):
        TeacherConfig(provider=Provider.local)


def test_local_teacher_checks_the_folder(tiny_model_dir, tmp_path):
    ok = check_connection(TeacherConfig(provider=Provider.local, local_path=str(tiny_model_dir)))
    assert ok.ok and "llama" in ok.message
    bad = check_connection(TeacherConfig(provider=Provider.local, local_path=str(tmp_path)))
    assert not bad.ok and "config.json" in bad.message


def test_a_named_key_variable_is_required_even_where_keys_are_optional(teacher_server, monkeypatch):
    from slmops_engine.errors import ConfigError
    from slmops_engine.teachers import api_key

    monkeypatch.delenv("MY_TEACHER_KEY", raising=False)
    named = _cfg(teacher_server, api_key_env="MY_TEACHER_KEY")  # an OpenAI-compatible URL: keys are optional
    with pytest.raises(ConfigError, match="MY_TEACHER_KEY is not set"):
        api_key(named)
    res = check_connection(named)
    assert not res.ok and "MY_TEACHER_KEY is not set" in res.message and teacher_server.requests == []
    # a provider's own optional default may stay unset (vLLM runs without a key)
    vllm = TeacherConfig(provider=Provider.vllm, base_url=teacher_server.url, model="m", api_key_env="VLLM_API_KEY")
    monkeypatch.delenv("VLLM_API_KEY", raising=False)
    assert api_key(vllm) is None


@pytest.mark.parametrize(
    "typed", ["sk-proj-abcdefghijklmnop", "0123456789abcdef0123456789abcdef0", "a1B2c3D4e5F6g7H8i9J0kL", "hf_abcdefgh"]
)
def test_a_key_typed_where_its_variable_name_belongs_is_refused(typed):
    with pytest.raises(ValidationError, match="this looks like the key itself: give the name of the variable"):
        TeacherConfig(provider=Provider.openai, base_url="https://x", model="m", api_key_env=typed)
    for name in ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "MY_TEACHER_KEY", "HF_TOKEN", "GroqKey"):
        assert TeacherConfig(provider=Provider.openai, base_url="https://x", model="m", api_key_env=name)


def test_a_key_repeated_in_an_endpoint_error_is_not_shown(teacher_server, monkeypatch):
    monkeypatch.setenv("MY_TEACHER_KEY", "sk-echo-0a1b2c3d4e5f6a7b")
    teacher_server.behaviour = Behaviour(status=400, echo_key=True)
    res = check_connection(_cfg(teacher_server, api_key_env="MY_TEACHER_KEY"))
    assert not res.ok and "sk-echo-0a1b2c3d4e5f6a7b" not in f"{res.message} {res.hint}" and "***" in res.hint
