"""The tiny fixture models every stage's tests use: real transformers models, built offline in seconds."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("fixture", ["tiny_model_dir", "tiny_qwen_dir"])
def test_tiny_model_loads_templates_and_generates(fixture, request):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = request.getfixturevalue(fixture)
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path)
    text = tok.apply_chat_template(
        [{"role": "user", "content": "reset my password"}], tokenize=False, add_generation_prompt=True
    )
    assert text == "<|im_start|>user\nreset my password<|im_end|>\n<|im_start|>assistant\n"
    enc = tok(text, return_tensors="pt")
    assert tok.unk_token_id not in enc["input_ids"][0].tolist()  # the trained vocabulary covers the words
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=5, do_sample=False)
    assert out.shape[1] == enc["input_ids"].shape[1] + 5 or tok.eos_token_id in out[0].tolist()
    assert model.config.model_type == ("llama" if fixture == "tiny_model_dir" else "qwen2")
