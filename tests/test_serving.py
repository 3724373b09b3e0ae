"""Deployment with the real Foundry Local runtime (foundry-local-sdk, in a model-server process) on tiny int4
models: deploy → /v1/models → streamed chat with the `openai` client → two at once → stop → remove; idempotent
deploys; a killed model server reported as failed with a hint; a taken port avoided (or, when it is required,
explained)."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
import urllib.request
from pathlib import Path

import openai
import pytest

from slmops_engine.db import session_scope
from slmops_engine.errors import ConfigError, EndpointError
from slmops_engine.models import Deployment, DeploymentStatus, ModelVariant
from slmops_engine.serving import deployments as deps
from slmops_engine.serving.chat import chat
from slmops_engine.serving.placement import model_folder

RUNNING = {DeploymentStatus.running, DeploymentStatus.failed}


def onnx_variant(path: Path, name: str) -> ModelVariant:
    with session_scope() as s:
        v = ModelVariant(name=name, stage="convert", format="onnx", precision="int4", artifact_path=str(path))
        s.add(v)
    return v


def answered(d: Deployment) -> bool:
    """A short chat completes without an error (what a random tiny model says may be blank)."""
    answer = chat(d, [{"role": "user", "content": "reset my password"}], max_tokens=3, temperature=0)
    "".join(answer)
    return answer.error is None and answer.latency_ms > 0


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


@pytest.mark.usefixtures("database")  # on SQLite and on PostgreSQL
def test_deploy_list_stream_two_at_once_stop_and_remove(serving, tiny_onnx):
    llama = onnx_variant(tiny_onnx["llama"], "tiny llama · ONNX int4")
    qwen = onnx_variant(tiny_onnx["qwen2"], "tiny qwen · ONNX int4")
    a = deps.wait_for(deps.deploy(llama.id).id, RUNNING, 60)
    assert a.status == DeploymentStatus.running, a.error_label
    assert a.endpoint == deps.endpoint() and a.model_id == f"v{llama.id}-tiny-llama-int4:1"
    assert a.model_id in {m["id"] for m in get_json(a.endpoint + "/models")["data"]}

    client = openai.OpenAI(base_url=a.endpoint, api_key="local")
    stream = client.chat.completions.create(
        model=a.model_id, messages=[{"role": "user", "content": "hello"}], stream=True, max_tokens=8, temperature=0
    )
    pieces = [c.choices[0].delta.content for c in stream if c.choices and c.choices[0].delta.content]
    assert len(pieces) >= 1

    b = deps.wait_for(deps.deploy(qwen.id).id, RUNNING, 60)
    assert b.status == DeploymentStatus.running and b.endpoint == a.endpoint  # one endpoint, two models
    for d in (a, b):  # both answer at the same time, through the app's logged chat
        answer = chat(d, [{"role": "user", "content": "reset my password"}], max_tokens=6, temperature=0)
        text = "".join(answer)
        assert answer.tokens >= 1 and text and answer.ttft_ms > 0 and answer.error is None
    assert [d.requests for d in deps.list_deployments()] == [1, 1]
    assert {e.kind for e in deps.events(a.id)} >= {"chat"}

    deps.wait_for(deps.stop(a.id).id, {DeploymentStatus.stopped}, 30)
    with pytest.raises(openai.BadRequestError, match="must be loaded"):
        client.chat.completions.create(model=a.model_id, messages=[{"role": "user", "content": "hi"}], max_tokens=2)
    with pytest.raises(EndpointError, match="not running"):
        chat(deps.get_deployment(a.id), [{"role": "user", "content": "hi"}])
    assert answered(deps.get_deployment(b.id))  # b still serves

    deps.remove(a.id)
    assert [d.id for d in deps.list_deployments()] == [b.id]
    assert not model_folder(a.model_id.split(":")[0]).exists()


def test_deploying_the_same_model_twice_does_not_duplicate(serving, tiny_onnx):
    v = onnx_variant(tiny_onnx["llama"], "tiny")
    first = deps.deploy(v.id)
    assert deps.deploy(v.id).id == first.id
    deps.wait_for(first.id, RUNNING, 60)
    assert deps.deploy(v.id).status == DeploymentStatus.running  # nothing to do: not reloaded
    again = deps.deploy(v.id, generation={"temperature": 0.7})  # new settings: the same deployment, reloaded
    assert again.id == first.id and again.status == DeploymentStatus.deploying
    d = deps.wait_for(first.id, RUNNING, 60)
    assert d.status == DeploymentStatus.running and d.generation["temperature"] == 0.7
    genai = json.loads((model_folder(d.model_id.split(":")[0]) / "genai_config.json").read_text())
    assert genai["search"]["temperature"] == 0.7 and genai["search"]["do_sample"]
    src_genai = json.loads((tiny_onnx["llama"] / "genai_config.json").read_text())
    assert src_genai["search"]["temperature"] == 1.0  # the source model is untouched (no write through a link)
    with session_scope() as s:
        assert s.query(Deployment).count() == 1


def test_a_killed_model_server_shows_as_failed_with_a_hint_and_restarts(serving, tiny_onnx):
    v = onnx_variant(tiny_onnx["llama"], "tiny")
    d = deps.wait_for(deps.deploy(v.id).id, RUNNING, 60)
    deadline = time.monotonic() + 20
    while deps.get_deployment(d.id).last_probe_ms is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert deps.get_deployment(d.id).last_probe_ok  # the health probe answered
    assert any(e.kind == "probe" and e.ok for e in deps.events(d.id))

    os.kill(deps.server_pid(), signal.SIGKILL)
    deadline = time.monotonic() + 10
    while deps.server_pid() and time.monotonic() < deadline:
        time.sleep(0.1)
    (failed,) = deps.list_deployments()
    assert failed.status == DeploymentStatus.failed
    assert failed.error_label == "The model server stopped unexpectedly" and "Restart" in failed.error_hint
    with pytest.raises(EndpointError):
        "".join(chat(failed, [{"role": "user", "content": "hi"}]))

    back = deps.wait_for(deps.restart(d.id).id, RUNNING, 60)  # the port is free again at once
    assert back.status == DeploymentStatus.running and back.error_label is None
    assert answered(back)


def test_a_port_in_use_and_non_servable_models_are_explained(serving, tiny_onnx, tmp_path, monkeypatch):
    hf = ModelVariant(name="hf", stage="import", format="hf", artifact_path=str(tmp_path))
    multi = tmp_path / "multi"
    multi.mkdir()
    (multi / "genai_config.json").write_text("{}")
    (multi / "adapters").mkdir()
    with session_scope() as s:
        s.add(hf)
    with pytest.raises(ConfigError, match="not an ONNX model"):
        deps.deploy(hf.id)
    with pytest.raises(ConfigError, match="adapters are switchable inputs"):
        deps.deploy(onnx_variant(multi, "multi").id)

    from slmops_engine.settings import get_settings, reset_settings

    monkeypatch.setenv("SLMOPS_SERVE_PORT_FIXED", "1")  # this port or none: the old refusal stands
    reset_settings()
    port = get_settings().serve_port
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", port))
        busy.listen()
        d = deps.wait_for(deps.deploy(onnx_variant(tiny_onnx["llama"], "tiny").id).id, RUNNING, 60)
    assert d.status == DeploymentStatus.failed
    assert d.error_label == f"Foundry Local could not listen on 127.0.0.1:{port}"
    assert "SLMOPS_SERVE_PORT" in d.error_hint


def test_a_taken_port_moves_the_model_server_to_a_free_one_that_everything_uses(serving, tiny_onnx):
    """Another program (another home's model server, say) holds the configured port: this home's server listens on
    a free one, records it, and the deployment, the chat, the CLI and the doctor all use and show that one."""
    from slmops_engine.settings import get_settings
    from tests.test_cli import slmops

    port = get_settings().serve_port
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", port))
        busy.listen()  # accepts connections and never answers: a client sent here would hang, not pass
        d = deps.wait_for(deps.deploy(onnx_variant(tiny_onnx["llama"], "tiny").id).id, RUNNING, 60)
        assert d.status == DeploymentStatus.running, d.error_label
        assert d.endpoint.startswith("http://127.0.0.1:") and f":{port}/" not in d.endpoint
        assert deps.endpoint() == d.endpoint  # what the server recorded beside its lock
        assert d.model_id in {m["id"] for m in get_json(d.endpoint + "/models")["data"]}
        assert answered(d)  # the app's chat goes to the recorded endpoint
        r = slmops("chat", str(d.id), "reset my password", "--max-tokens", "2", timeout=60)
        assert r.returncode == 0, r.stderr
        assert d.endpoint in slmops("deployments").stdout
        doctor = slmops("doctor").stdout
        assert f"model server: pid {deps.server_pid()}, running for " in doctor
        assert f"at {d.endpoint} (port {port} was taken)" in doctor
    assert [e.ok for e in deps.events(d.id) if e.kind == "chat"] == [True, True]


def test_cli_deploy_deployments_chat_undeploy(serving, tiny_onnx):
    from tests.test_cli import slmops

    v = onnx_variant(tiny_onnx["llama"], "tiny")
    r = slmops("deploy", str(v.id), "--temperature", "0")
    assert r.returncode == 0, r.stderr
    dep_id = r.stdout.strip().splitlines()[-1]
    assert "running" in r.stdout and "/v1" in r.stdout
    r = slmops("deployments")
    assert f"v{v.id}-tiny:1" in r.stdout and "running" in r.stdout
    r = slmops("chat", dep_id, "reset my password", "--max-tokens", "4")
    assert r.returncode == 0 and r.stdout and "[4 tokens · first after" in r.stderr, r.stderr
    assert "1 requests" in slmops("deployments").stdout
    r = slmops("undeploy", dep_id)
    assert r.returncode == 0 and "removed" in r.stdout
    assert "no deployments" in slmops("deployments").stdout
    r = slmops("chat", dep_id, "hi")
    assert r.returncode == 2 and f"Deployment {dep_id} does not exist" in r.stderr


def test_a_deployment_asked_for_moments_ago_is_not_called_lost(tiny_onnx):
    from datetime import timedelta

    from slmops_engine.models import utcnow

    v = onnx_variant(tiny_onnx["llama"], "tiny")
    with session_scope() as s:
        d = Deployment(variant_id=v.id, model_id="m:1", status=DeploymentStatus.deploying)
        s.add(d)
    assert deps.list_deployments()[0].status == DeploymentStatus.deploying  # its server may still be starting
    with session_scope() as s:
        row = s.get(Deployment, d.id)
        row.updated_at = utcnow() - timedelta(minutes=1)
        s.add(row)
    (lost,) = deps.list_deployments()
    assert lost.status == DeploymentStatus.failed and lost.error_label == "The model server stopped unexpectedly"
