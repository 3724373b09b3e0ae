"""Prompt templates for Foundry Local, derived from each model's chat template, and an edited template being what
the model really sees (onnxruntime-genai renders the written chat template)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from slmops_engine.errors import ConfigError
from slmops_engine.serving import templates
from slmops_engine.serving.placement import place

LLAMA3 = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + "
    "message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
    "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)
CHATML = {
    "system": "<|im_start|>system\n{Content}<|im_end|>\n",
    "user": "<|im_start|>user\n{Content}<|im_end|>\n",
    "assistant": "<|im_start|>assistant\n{Content}<|im_end|>\n",
    "prompt": "<|im_start|>user\n{Content}<|im_end|>\n<|im_start|>assistant\n",
}
CONVERSATION = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Where is my parcel?"}]


def folder(tmp_path: Path, template: str | None, bos: str = "<s>") -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    cfg = {"bos_token": bos, "eos_token": "</s>"} | ({"chat_template": template} if template else {})
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(cfg))
    return tmp_path


def test_chatml_model(tiny_model_dir):
    assert templates.derive(tiny_model_dir) == CHATML


def test_chatml_model_whose_bos_is_im_start(bundled_model_dir):
    # SmolLM2 adds a default system prompt when none is given and uses <|im_start|> as BOS: neither leaks in.
    assert templates.derive(bundled_model_dir) == CHATML


def test_llama3_model(tmp_path):
    pieces = templates.derive(folder(tmp_path, LLAMA3, bos="<|begin_of_text|>"))
    assert pieces == {
        "system": "<|start_header_id|>system<|end_header_id|>\n\n{Content}<|eot_id|>",
        "user": "<|start_header_id|>user<|end_header_id|>\n\n{Content}<|eot_id|>",
        "assistant": "<|start_header_id|>assistant<|end_header_id|>\n\n{Content}<|eot_id|>",
        "prompt": "<|start_header_id|>user<|end_header_id|>\n\n{Content}<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n",
    }
    # The pieces build the same prompt as the model's own template (which adds the BOS token itself).
    tpl, tokens = templates.read_chat_template(tmp_path)
    own = templates._render(tpl, tokens, CONVERSATION, generation=True)
    assert "<|begin_of_text|>" + templates.render(pieces, CONVERSATION) == own


def test_model_without_chat_template_gets_a_plain_one(tmp_path):
    pieces = templates.derive(folder(tmp_path, None))
    assert pieces["prompt"] == "User: {Content}\nAssistant:"
    assert templates.render(pieces, CONVERSATION) == "Be brief.\n\nUser: Where is my parcel?\nAssistant:"


def test_a_broken_template_is_refused_with_words(tmp_path):
    with pytest.raises(ConfigError, match="cannot be rendered"):
        templates.derive(folder(tmp_path, "{{ raise_exception('roles must alternate') }}"))
    with pytest.raises(ConfigError, match="exactly once"):
        templates.validate(CHATML | {"user": "no marker"})
    with pytest.raises(ConfigError, match="lacks prompt"):
        templates.validate({k: v for k, v in CHATML.items() if k != "prompt"})


def test_an_edited_template_is_what_the_model_sees(tiny_model_dir, tmp_path, slmops_home):
    import onnxruntime_genai as og

    from slmops_engine.optimize.builder import run_builder
    from slmops_engine.optimize.config import ConvertConfig

    onnx = tmp_path / "onnx"
    run_builder(ConvertConfig(variant_id=0, precision="int4"), tiny_model_dir, onnx, tmp_path / "c", tmp_path / "log")
    edited = CHATML | {
        "user": "<|im_start|>user\nCustomer says: {Content}<|im_end|>\n",
        "prompt": "<|im_start|>user\nCustomer says: {Content}<|im_end|>\n<|im_start|>assistant\nCategory:",
    }
    placed = place("edited", onnx, edited, {}, custom_template=True)
    meta = json.loads((placed / "inference_model.json").read_text())
    assert meta == {"Name": "edited:1", "PromptTemplate": edited}
    tok = og.Tokenizer(og.Model(str(placed)))
    seen = tok.apply_chat_template(json.dumps(CONVERSATION), add_generation_prompt=True)
    assert seen == templates.render(edited, CONVERSATION)
    assert seen.endswith("Customer says: Where is my parcel?<|im_end|>\n<|im_start|>assistant\nCategory:")
    assert (onnx / "chat_template.jinja").read_text() != (placed / "chat_template.jinja").read_text()
    shutil.rmtree(placed)
