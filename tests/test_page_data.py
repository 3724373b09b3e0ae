"""The Data page through AppTest: upload, validate, review rejected rows, import, sample, split, preview."""

from __future__ import annotations

import json

import pytest

from slmops_engine import projects
from slmops_engine.data import import_sample, list_datasets, load_dataset_dict
from slmops_engine.students import StudentChoice
from tests.test_pages import _live_navigation, _no_supervisor, no_exception, open_app, texts  # noqa: F401

PAGE = "pages/data.py"


@pytest.fixture
def project(tiny_model_dir):
    p = projects.create_project("router")
    projects.set_student(p.id, StudentChoice(source="local", path=str(tiny_model_dir)))
    return p


def _upload(at, name: str, content: bytes):
    at.file_uploader[0].set_value((name, content, "application/octet-stream"))
    return at.run()


def _click(at, label: str):
    next(b for b in at.button if b.label == label).click()
    return at.run()


def test_partly_bad_upload_is_reviewed_then_valid_rows_imported(project):
    rows = [json.dumps({"prompt": f"my order {i} is late", "response": "shipping"}) for i in range(4)]
    content = ("\n".join(rows[:2] + ["{broken json", ""] + rows[2:]) + "\n").encode()
    at = open_app(PAGE, project.id)
    no_exception(at)
    at = _upload(at, "tickets.jsonl", content)
    assert "Prompt and response pairs" in texts(at)
    at = _click(at, "Validate every row")
    no_exception(at)
    assert [m.value for m in at.metric] == ["5", "4", "1"]
    assert "1 of 5 rows have problems: line 3: malformed JSON" in texts(at)
    assert list_datasets(project.id) == []  # nothing stored before the operator says so
    at = _click(at, "Import the 4 valid rows")
    no_exception(at)
    (ds,) = list_datasets(project.id)
    assert ds.n_rows == 4 and ds.name == "tickets" and ds.info["rejected"] == 1
    assert "Dataset “tickets” stored: 4 rows." in texts(at)


def test_unusable_upload_shows_a_plain_error_and_stores_nothing(project):
    at = open_app(PAGE, project.id)
    at = _upload(at, "junk.csv", b"\x00\x01\x02 binary")
    no_exception(at)
    assert "looks binary" in texts(at)
    assert list_datasets(project.id) == []


@pytest.mark.parametrize("name", ["..", ""])
def test_upload_with_an_unusable_file_name_shows_a_plain_message(project, name):
    at = open_app(PAGE, project.id)
    at = _upload(at, name, b'{"prompt": "hi", "response": "there"}\n')
    no_exception(at)
    assert "cannot be used as a file name" in texts(at) and "Rename the file" in texts(at)
    assert list_datasets(project.id) == []


def test_sample_dataset_then_stats_preview_and_split(project):
    at = open_app(PAGE, project.id)
    at.radio[0].set_value("The sample dataset").run()
    at = _click(at, "Load the sample dataset")
    no_exception(at)
    (ds,) = list_datasets(project.id)
    assert ds.stage == "sample"
    shown = texts(at)
    assert "<|im_start|>user\n" in shown  # preview rendered through the student's chat template
    assert "Label balance" in json.dumps([c.proto.spec for c in at.get("plotly_chart")])
    at.button(key=f"FormSubmitter:split_{ds.id}-Make the split").click().run()
    no_exception(at)
    split = max(list_datasets(project.id), key=lambda d: d.id)
    assert split.parent_id == ds.id and set(load_dataset_dict(split.id)) == {"train", "validation", "test"}


def test_datasets_tab_lists_existing_datasets(project):
    import_sample(project.id)
    at = open_app(PAGE, project.id)
    no_exception(at)
    table = at.dataframe[0].value
    assert table["name"].tolist() == ["Brightwave support routing (sample)"] and table["rows"].tolist() == [320]
