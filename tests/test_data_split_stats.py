"""Splits (sizes, seed, stratification), statistics, chat-template preview, export, sample dataset."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from slmops_engine.data import (
    SplitConfig,
    dataset_stats,
    export_jsonl,
    import_file,
    import_sample,
    lineage,
    load_dataset_dict,
    preview_rows,
    split_dataset,
)
from slmops_engine.errors import DataError


@pytest.fixture
def labelled(tmp_path):
    rows = [
        {"text": f"message {i}", "label": lab}
        for lab, n in (("a", 60), ("b", 30), ("c", 10))
        for i in range(n)
        for _ in [0]
        if True
    ]
    rows = [{"text": f"{r['text']} {r['label']}", "label": r["label"]} for r in rows]
    f = tmp_path / "d.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    ds, _ = import_file(f, project_id=None)
    return ds


def test_split_sizes_and_stratification(labelled):
    split = split_dataset(labelled.id, SplitConfig(validation=0.1, test=0.2, seed=7))
    dd = load_dataset_dict(split.id)
    sizes = {k: len(v) for k, v in dd.items()}
    assert sizes == {"train": 72, "validation": 8, "test": 20}
    test_labels = Counter(dd["test"]["label"])
    assert test_labels == {"a": 12, "b": 6, "c": 2}  # every label keeps its share
    assert split.parent_id == labelled.id and split.stage == "split"
    assert [d.id for d in lineage(split.id)] == [split.id, labelled.id]
    all_prompts = [p for part in dd.values() for p in part["prompt"]]
    assert len(all_prompts) == len(set(all_prompts)) == 100  # no row lost or duplicated


def test_split_is_reproducible_by_seed(labelled):
    a = load_dataset_dict(split_dataset(labelled.id, SplitConfig(seed=1)).id)["test"]["prompt"]
    b = load_dataset_dict(split_dataset(labelled.id, SplitConfig(seed=1)).id)["test"]["prompt"]
    c = load_dataset_dict(split_dataset(labelled.id, SplitConfig(seed=2)).id)["test"]["prompt"]
    assert list(a) == list(b) and list(a) != list(c)


def test_split_refuses_to_leave_nothing(labelled):
    with pytest.raises(Exception, match="less than 1|less_than"):
        SplitConfig(validation=1.0)
    with pytest.raises(DataError, match="Nothing would be left"):
        split_dataset(labelled.id, SplitConfig(validation=0.99, test=0.99))


def test_stats_and_preview_use_the_student_tokenizer(labelled, tiny_model_dir):
    st = dataset_stats(labelled.id, tiny_model_dir)
    assert st.unit == "tokens" and st.rows == {"train": 100}
    assert len(st.prompt_lengths) == 100 and min(st.prompt_lengths) >= 2
    assert st.labels["train"] == {"a": 60, "b": 30, "c": 10}
    words = dataset_stats(labelled.id)
    assert words.unit == "words" and words.prompt_lengths[0] == 3
    shown = preview_rows(labelled.id, tiny_model_dir, n=2, system_prompt="Route it.")
    assert (
        shown[0] == "<|im_start|>system\nRoute it.<|im_end|>\n<|im_start|>user\nmessage 0 a<|im_end|>\n"
        "<|im_start|>assistant\na<|im_end|>\n"
    )


def test_export_roundtrip(labelled, tmp_path):
    out = tmp_path / "out.jsonl"
    assert export_jsonl(labelled.id, out) == 100
    first = json.loads(out.read_text().splitlines()[0])
    assert first == {"prompt": "message 0 a", "response": "a", "label": "a", "split": "train"}


def test_sample_dataset_ships_with_a_held_out_test_part():
    ds = import_sample(project_id=None)
    dd = load_dataset_dict(ds.id)
    assert len(dd["train"]) >= 200 and len(dd["test"]) >= 60
    labels = set(dd["test"]["label"])
    assert labels == {"billing", "account", "technical", "shipping"}
    assert ds.info["rejected"] == 0 and ds.stage == "sample"
