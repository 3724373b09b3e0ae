"""The task-aware teacher: the label set stated, examples picked per prompt from the training part, the local
teacher's constrained choice (always a label, the likeliest one), structured output from an endpoint and the
plain fallback when it has none."""

from __future__ import annotations

import asyncio

import pytest

from slmops_engine.synth.local import LocalTeacher
from slmops_engine.synth.remote import RemoteTeacher
from slmops_engine.teachers import Provider, TeacherConfig
from slmops_engine.teaching import (
    FREE_TEXT_TOKENS,
    ExampleIndex,
    answer_tokens,
    asking,
    choose_labels,
    labels_instruction,
    task_labels,
)
from tests.support.evaluation import ROUTES, route_or_judge
from tests.support.openai_server import Behaviour, OpenAIServer

LABELS = sorted(set(ROUTES.values()))
TRAIN = [
    {"prompt": "my invoice shows a double charge", "label": "billing"},
    {"prompt": "I forgot my password again", "label": "account"},
    {"prompt": "the parcel never arrived", "label": "shipping"},
    {"prompt": "the app crashes at start", "label": "technical"},
    {"prompt": "why was I billed twice this month", "label": "billing"},
    {"prompt": "how do I change the email of my login", "label": "account"},
    {"prompt": "tracking says the box is lost", "label": "shipping"},
    {"prompt": "the thermostat does not connect to wifi", "label": "technical"},
]


def test_task_labels_need_every_row_labelled_and_at_least_two_labels():
    assert task_labels(TRAIN) == LABELS
    assert task_labels([{**r, "label": "billing"} for r in TRAIN]) == []  # one label is no choice
    assert task_labels([*TRAIN, {"prompt": "x", "label": None}]) == []
    assert task_labels([{"prompt": str(i), "label": str(i)} for i in range(10)]) == []  # free text, not classes


def test_answer_length_follows_the_task():
    assert answer_tokens([], []) == FREE_TEXT_TOKENS  # nothing to size it from
    assert answer_tokens(["word " * 60]) == 135  # 300 characters: ~100 tokens + 8, and a quarter more
    assert answer_tokens(["word " * 60], LABELS) == 16  # a label is a few tokens, whatever the references say
    assert answer_tokens(["x" * 100_000]) == 1024 and answer_tokens(["x" * 100_000], cap=512) == 512


def test_examples_are_the_most_similar_closest_last_never_the_prompt_itself():
    index = ExampleIndex.from_rows(TRAIN)
    picked = index.nearest("a double charge on the invoice, and the parcel never came", 2)
    assert [e.answer for e in picked] == ["shipping", "billing"]  # the closest one sits next to the question
    assert all(e.prompt != TRAIN[1]["prompt"] for e in index.nearest(TRAIN[1]["prompt"], 4))


def test_the_request_states_the_labels_and_shows_examples():
    teacher = TeacherConfig(provider=Provider.local, local_path="/x", system_prompt="Route.", example_shots=2)
    ask = asking(teacher, TRAIN)
    msgs = ask.messages("refund the invoice please")
    assert msgs[0] == {"role": "system", "content": f"Route.\n\n{labels_instruction(LABELS)}"}
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert msgs[-2]["content"] == "billing" and msgs[-1]["content"] == "refund the invoice please"
    named = asking(teacher.model_copy(update={"labels": ["yes", "no"], "example_shots": 0}), TRAIN)
    assert named.labels == ["yes", "no"] and len(named.messages("q")) == 2


def test_local_constrained_choice_is_always_a_label_and_the_likeliest(tiny_model_dir):
    import torch

    teacher = LocalTeacher(tiny_model_dir, temperature=0, max_tokens=8)
    tok, model = teacher.tok, teacher.model
    convs = [[{"role": "user", "content": p}] for p in ("reset my password", "where is my parcel from last week")]
    replies = teacher.choose(convs, LABELS)
    assert all(r.text in LABELS and r.finish_reason == "stop" for r in replies)
    prompts = [tok.apply_chat_template(c, add_generation_prompt=True, tokenize=True, return_dict=False) for c in convs]
    picks = choose_labels(model, tok, prompts, LABELS)
    for prompt, (best, scores) in zip(prompts, picks, strict=True):
        for j, label in enumerate(LABELS):  # each label's log-probability, from a separate full forward
            ids = tok(label, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
            with torch.no_grad():
                logp = torch.log_softmax(model(torch.tensor([prompt + ids])).logits[0].float(), -1)
            want = sum(float(logp[len(prompt) - 1 + t, ids[t]]) for t in range(len(ids)))
            assert scores[j] == pytest.approx(want, abs=1e-3)
        assert best == max(range(len(LABELS)), key=lambda j: scores[j])


def _ask(server: OpenAIServer, labels):
    teacher = TeacherConfig(provider=Provider.openai_compatible, base_url=server.url, model="teacher-model")

    async def go():
        client = RemoteTeacher(teacher, temperature=0, max_tokens=16, timeout=10, max_retries=0, requests_per_minute=0)
        try:
            return [await client.ask([{"role": "user", "content": q}], labels=labels) for q in ("my invoice", "crash")]
        finally:
            await client.close()

    return asyncio.run(go())


def test_an_endpoint_answers_a_label_by_structured_output_or_plainly():
    with OpenAIServer(answer=route_or_judge) as srv:
        assert [r.text for r in _ask(srv, LABELS)] == ["billing", "technical"]
        schema = srv.requests[0].body["response_format"]["json_schema"]["schema"]
        assert schema["properties"]["label"]["enum"] == LABELS
    with OpenAIServer(answer=lambda m: f"The team is {route_or_judge(m)}.") as srv:
        srv.behaviour = Behaviour(structured=False)  # refuses response_format with a 400
        assert [r.text for r in _ask(srv, LABELS)] == ["billing", "technical"]
        assert [r.status for r in srv.requests] == [400, 200, 200]  # asked plainly from then on
        assert "response_format" not in srv.requests[-1].body


def test_a_distillation_run_with_a_local_teacher_answers_only_labels(tiny_model_dir, tmp_path):
    from slmops_engine.data.store import load_dataset_dict
    from slmops_engine.stage_api import Reporter
    from slmops_engine.stages import synth
    from tests.support.evaluation import routing_dataset

    ds = routing_dataset(tmp_path)
    teacher = TeacherConfig(
        provider=Provider.local, local_path=str(tiny_model_dir), system_prompt="Route.", example_shots=2
    )
    result = synth.run(synth.Config(dataset_id=ds.id, teacher=teacher, splits=["train"]), Reporter(tmp_path / "run"))
    train = load_dataset_dict(result["dataset_id"])["train"]
    assert len(train) == 16 and set(train["response"]) <= set(LABELS)  # a random tiny model, and still only labels
    assert not any(train["flags"])
    again = synth.run(synth.Config(dataset_id=ds.id, teacher=teacher, splits=["train"]), Reporter(tmp_path / "again"))
    assert again["cached"] == 16  # the same requests (examples included) are found in the cache
