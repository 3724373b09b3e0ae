"""Shape detection and normalisation for every supported layout and file format."""

from __future__ import annotations

import json

import pytest

from slmops_engine.data import guess_shape, import_file, inspect_file, load_dataset_dict


@pytest.mark.parametrize(
    ("columns", "shape", "parts"),
    [
        (["prompt"], "prompts", {"prompt": "prompt"}),
        (["question", "answer"], "prompt_response", {"prompt": "question", "response": "answer"}),
        (["instruction", "input", "output"], "instruction", {"instruction": "instruction", "input": "input"}),
        (["messages"], "messages", {"messages": "messages"}),
        (["text", "label"], "prompt_response", {"prompt": "text", "response": "label", "label": "label"}),
        (["prompt", "completion", "category"], "prompt_response", {"response": "completion", "label": "category"}),
    ],
)
def test_guess_shape(columns, shape, parts):
    g = guess_shape(columns)
    assert g.mapping.shape == shape
    for k, v in parts.items():
        assert getattr(g.mapping, k) == v
    assert not g.ambiguous


def test_ambiguous_and_unknown_columns():
    assert guess_shape(["prompt", "question", "answer"]).ambiguous
    nothing = guess_shape(["a", "b"])
    assert nothing.mapping is None and nothing.ambiguous


def _rows_of(path):
    ds, _ = import_file(path, project_id=None)
    dd = load_dataset_dict(ds.id)
    return ds, {k: list(v) for k, v in dd.items()}


def test_messages_shape_keeps_system_and_last_turns(tmp_path):
    f = tmp_path / "chat.jsonl"
    f.write_text(
        json.dumps(
            {
                "messages": [
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": "hello"},
                    {"role": "user", "content": "reset password?"},
                    {"role": "assistant", "content": "Use the link."},
                ]
            }
        )
        + "\n"
    )
    ds, parts = _rows_of(f)
    row = parts["train"][0]
    assert (row["system"], row["prompt"], row["response"]) == ("Be brief.", "reset password?", "Use the link.")
    assert ds.info["shape"] == "messages"


def test_instruction_shape_joins_input(tmp_path):
    f = tmp_path / "alpaca.json"
    f.write_text(
        json.dumps(
            [
                {"instruction": "Classify", "input": "my app crashes", "output": "technical"},
                {"instruction": "Say hi", "input": "", "output": "hi"},
            ]
        )
    )
    _, parts = _rows_of(f)
    assert [r["prompt"] for r in parts["train"]] == ["Classify\n\nmy app crashes", "Say hi"]


def test_plain_text_is_prompts_only(tmp_path):
    f = tmp_path / "prompts.txt"
    f.write_text("How do I pair the thermostat?\n\nWhy was I charged twice?\n", encoding="utf-8")
    ds, parts = _rows_of(f)
    assert ds.info["shape"] == "prompts" and ds.info["has_responses"] is False
    assert [r["prompt"] for r in parts["train"]] == ["How do I pair the thermostat?", "Why was I charged twice?"]
    assert [r["line"] for r in parts["train"]] == [1, 3]


def test_parquet_and_split_column(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "prompt": [f"q{i}" for i in range(6)],
            "response": ["a"] * 6,
            "split": ["train", "train", "train", "test", "test", "validation"],
        }
    )
    pq.write_table(table, tmp_path / "d.parquet")
    assert inspect_file(tmp_path / "d.parquet").format == "parquet"
    ds, parts = _rows_of(tmp_path / "d.parquet")
    assert {k: len(v) for k, v in parts.items()} == {"train": 3, "test": 2, "validation": 1}


def test_saved_hf_dataset_folder(tmp_path):
    from datasets import Dataset, DatasetDict

    DatasetDict(
        {
            "train": Dataset.from_dict({"question": ["a?", "b?"], "answer": ["1", "2"]}),
            "test": Dataset.from_dict({"question": ["c?"], "answer": ["3"]}),
        }
    ).save_to_disk(tmp_path / "hf")
    ds, parts = _rows_of(tmp_path / "hf")
    assert ds.info["format"] == "hf_folder"
    assert [r["prompt"] for r in parts["train"]] == ["a?", "b?"] and parts["test"][0]["response"] == "3"


def test_csv_with_bom_and_quotes(tmp_path):
    f = tmp_path / "d.csv"
    f.write_bytes('\ufeffprompt,response\n"Hello, I need help","Sure, ""quoted"""\n'.encode())
    _, parts = _rows_of(f)
    assert parts["train"][0]["prompt"] == "Hello, I need help" and parts["train"][0]["response"] == 'Sure, "quoted"'
