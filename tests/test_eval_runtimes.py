"""The evaluation's transformers runner: batched answers with left padding equal plain greedy generation of each
prompt alone, and the reference likelihood read in the same pass equals a separate forward over prompt + answer."""

from __future__ import annotations

import pytest

from slmops_engine.evaluate.runtimes import TransformersRunner

PROMPTS = ["reset my password", "where is the parcel I ordered two weeks ago from your shop", "invoice"]
REFERENCES = ["account", "shipping and delivery questions", ""]


def _messages(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


@pytest.mark.parametrize("model", ["tiny_model_dir", "tiny_qwen_dir"])
def test_batched_answers_and_likelihoods_equal_one_at_a_time(model, request):
    import torch

    runner = TransformersRunner(str(request.getfixturevalue(model)))
    tok, model = runner.tok, runner.model
    batch = [_messages(p) for p in PROMPTS]
    together = runner.answer(batch, 6, REFERENCES)
    for messages, ref, got in zip(batch, REFERENCES, together, strict=True):
        prompt = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=False)
        with torch.no_grad():
            plain = model.generate(
                torch.tensor([prompt]), max_new_tokens=6, do_sample=False, pad_token_id=tok.pad_token_id
            )
        text, n, _ = runner._decode(plain[0][len(prompt) :].tolist())
        assert (got.text, got.tokens, got.prompt_tokens) == (text, n, len(prompt))
        answer = tok(ref, add_special_tokens=False)["input_ids"]
        if not answer:
            assert got.nll is None and got.ref_tokens is None
            continue
        with torch.no_grad():
            logits = model(torch.tensor([prompt + answer])).logits[0, len(prompt) - 1 : -1]
        want = float(torch.nn.functional.cross_entropy(logits.float(), torch.tensor(answer), reduction="sum"))
        assert got.ref_tokens == len(answer) and got.nll == pytest.approx(want, rel=1e-4)
    alone = runner.answer(batch[:1], 6, REFERENCES[:1])[0]
    assert alone.ttft_ms is not None and alone.ttft_ms <= alone.latency_ms
    assert (alone.text, alone.nll) == (together[0].text, pytest.approx(together[0].nll, rel=1e-4))
