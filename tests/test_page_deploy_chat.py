"""The Deploy and Chat pages through AppTest, against the real Foundry Local runtime serving tiny int4 models:
template preview, Deploy, the live list with endpoint/snippets/health, Stop; streamed chat with speed under each
answer, compare mode, clear and download."""

from __future__ import annotations

import pytest

from slmops_engine import projects
from slmops_engine.db import session_scope
from slmops_engine.models import DeploymentStatus, ModelVariant
from slmops_engine.serving import deployments as deps
from tests.test_pages import _live_navigation, _no_supervisor, no_exception, open_app, texts  # noqa: F401
from tests.test_serving import RUNNING


def onnx_variants(project_id: int, tiny_onnx) -> list[ModelVariant]:
    out = []
    with session_scope() as s:
        for arch, path in tiny_onnx.items():
            v = ModelVariant(
                project_id=project_id,
                name=f"tiny {arch} · ONNX int4",
                stage="convert",
                format="onnx",
                precision="int4",
                artifact_path=str(path),
                size_bytes=1000,
            )
            s.add(v)
            out.append(v)
    return out


def links(at) -> list[str]:
    return [e.proto.label for e in at.get("page_link")]


def test_deploy_page_without_a_model_points_to_optimize() -> None:
    p = projects.create_project("empty")
    at = open_app("pages/deploy.py", p.id)
    no_exception(at)
    assert "No ONNX model yet" in texts(at)
    assert "Go to Optimize" in [link.proto.label for link in at.get("page_link")]
    at = open_app("pages/chat.py", p.id)
    no_exception(at)
    assert "No deployment is running" in texts(at)


@pytest.mark.usefixtures("database")  # the dashboard, the model server and the app on SQLite and on PostgreSQL
def test_deploy_from_the_page_then_watch_and_stop(serving, tiny_onnx) -> None:
    p = projects.create_project("router")
    llama, _ = onnx_variants(p.id, tiny_onnx)
    at = open_app("pages/deploy.py", p.id)
    no_exception(at)
    chat = "Next: chat with a deployment"
    assert chat not in links(at)  # nothing to chat with yet
    k = f"dep_{p.id}"
    at.selectbox(key=f"{k}_model").set_value(llama.id).run()
    assert at.text_area(key=f"{k}_{llama.id}_prompt").value.startswith("<|im_start|>user\n{Content}")
    assert "<|im_start|>system\nYou route support messages.<|im_end|>" in texts(at)  # the preview
    at.slider(key=f"{k}_temp").set_value(0.0)
    at.button(key="deploy_start").click().run()
    no_exception(at)
    (d,) = deps.list_deployments()
    assert d.project_id == p.id and d.variant_id == llama.id and d.generation["temperature"] == 0.0
    assert "Deploying" in texts(at)

    d = deps.wait_for(d.id, RUNNING, 60)
    assert d.status == DeploymentStatus.running, d.error_label
    at.run()
    no_exception(at)
    shown = texts(at)
    assert "Running" in shown and d.endpoint in shown and d.model_id in shown
    assert f"curl {d.endpoint}/chat/completions" in shown and f'model="{d.model_id}"' in shown
    assert chat in links(at)

    at.button(key=f"dep_stop_{d.id}").click().run()
    no_exception(at)
    assert deps.wait_for(d.id, {DeploymentStatus.stopped}, 30).status == DeploymentStatus.stopped
    at.run()
    assert "Stopped" in texts(at) and at.button(key=f"dep_stop_{d.id}").disabled
    assert chat not in links(at)


def test_chat_streams_answers_and_compares_two_deployments(serving, tiny_onnx) -> None:
    p = projects.create_project("router")
    first, second = onnx_variants(p.id, tiny_onnx)
    a = deps.deploy(first.id, generation={"temperature": 0.0})
    assert deps.wait_for(a.id, RUNNING, 60).status == DeploymentStatus.running
    at = open_app("pages/chat.py", p.id)  # one deployment: nothing to compare it with, and the page says so
    no_exception(at)
    compare = at.toggle(key=f"chat_{p.id}_compare")
    assert compare.disabled and "second running deployment" in compare.help
    assert "Deploy another model" in [link.proto.label for link in at.get("page_link")]
    b = deps.deploy(second.id, generation={"temperature": 0.0})
    assert deps.wait_for(b.id, RUNNING, 60).status == DeploymentStatus.running
    at = open_app("pages/chat.py", p.id)
    no_exception(at)
    assert at.selectbox(key=f"chat_{p.id}_a").value == f"d{a.id}"
    at.number_input(key=f"chat_{p.id}_max").set_value(5)
    at.chat_input(key=f"chat_{p.id}_input").set_value("reset my password").run()
    no_exception(at)
    assert "first token after" in texts(at) and "tokens/s" in texts(at)
    assert [d.requests for d in deps.list_deployments()] == [1, 0]

    at.toggle(key=f"chat_{p.id}_compare").set_value(True).run()
    no_exception(at)
    assert at.selectbox(key=f"chat_{p.id}_b").value == f"d{b.id}"  # the other deployment by default
    at.chat_input(key=f"chat_{p.id}_input").set_value("where is my parcel").run()
    no_exception(at)
    assert f"#{a.id} {a.name}" in texts(at) and f"#{b.id} {b.name}" in texts(at)
    assert [d.requests for d in deps.list_deployments()] == [2, 1]
    key = f"chat_{p.id}_d{a.id}|d{b.id}"
    turns = at.session_state[key]
    assert turns[0]["user"] == "where is my parcel" and set(turns[0]["answers"]) == {f"d{a.id}", f"d{b.id}"}
    assert [b.label for b in at.get("download_button")] == ["Download"]
    at.button(key="chat_clear").click().run()
    no_exception(at)
    assert at.session_state[key] == []


def test_chat_switches_the_adapters_of_a_multi_adapter_model(tiny_model_dir, tmp_path) -> None:
    from slmops_engine.stage_api import Reporter
    from slmops_engine.stages import convert
    from tests.test_convert import hf_variant
    from tests.test_multi_adapter import make_adapter

    p = projects.create_project("router")
    base = hf_variant(tiny_model_dir)
    adapters = [make_adapter(base, tmp_path / n, seed=i, name=n) for i, n in enumerate(("billing", "account"), 1)]
    cfg = convert.Config(variant_id=base.id, precision="int4", adapter_ids=[a.id for a in adapters])
    result = convert.run(cfg, Reporter(tmp_path / "run"))
    with session_scope() as s:
        v = s.get(ModelVariant, result["variant_id"])
        v.project_id = p.id
        s.add(v)
    names = [a["name"] for a in result["adapters"]]

    at = open_app("pages/chat.py", p.id)
    no_exception(at)
    k = f"chat_{p.id}"
    assert at.selectbox(key=f"{k}_a").value == f"v{v.id}"
    radio = at.radio(key=f"{k}_a_{v.id}_adapter")
    assert radio.value == names[0] and radio.options[1:] == names
    at.toggle(key=f"{k}_compare").set_value(True).run()
    assert at.radio(key=f"{k}_b_{v.id}_adapter").value == names[1]  # the other adapter by default
    at.number_input(key=f"{k}_max").set_value(6)
    at.chat_input(key=f"{k}_input").set_value("reset my password").run()
    no_exception(at)
    (turn,) = at.session_state[f"{k}_v{v.id}:{names[0]}|v{v.id}:{names[1]}"]
    one, two = (turn["answers"][f"v{v.id}:{n}"] for n in names)
    assert one["tokens"] >= 1 and two["tokens"] >= 1 and one["text"] != two["text"]
    assert "first token after" in texts(at)
