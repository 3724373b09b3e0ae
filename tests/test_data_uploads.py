"""Saving an uploaded file: any name the browser sends stays inside a fresh staging folder, or is refused plainly."""

from __future__ import annotations

import io

import pytest

from slmops_engine.data import save_upload
from slmops_engine.errors import DataError
from slmops_engine.settings import get_settings


def _files_under(root) -> set:
    return {p for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    ("name", "saved_as"),
    [
        ("tickets.csv", "tickets.csv"),
        ("../../x.csv", "x.csv"),
        ("..\\..\\x.csv", "x.csv"),
        ("C:\\Users\\me\\data.jsonl", "data.jsonl"),
        (".hidden.tsv", ".hidden.tsv"),
        ("x" * 400 + ".parquet", "x" * 100 + ".parquet"),
        ("é" * 200 + ".csv", "é" * 50 + ".csv"),  # cut at 100 bytes, never inside a character
    ],
)
def test_usable_names_are_saved_inside_the_uploads_folder_with_their_extension(tmp_path, name, saved_as):
    before = _files_under(tmp_path)
    path = save_upload(name, io.BytesIO(b"prompt\nhello\n"))
    uploads = (get_settings().home / "tmp").resolve()
    assert path.name == saved_as and path.resolve().parent.parent == uploads
    assert path.read_bytes() == b"prompt\nhello\n"
    assert _files_under(tmp_path) - before == {path}  # nothing written anywhere else


@pytest.mark.parametrize(
    "name", ["..", "", ".", "...", "../..", "a/..", "/", "bad\x00name.csv", "line\nbreak.csv", "   "]
)
def test_unusable_names_are_refused_with_a_hint_and_nothing_is_written(tmp_path, name):
    before = set(tmp_path.rglob("*"))
    with pytest.raises(DataError) as info:
        save_upload(name, io.BytesIO(b"prompt\nhello\n"))
    assert "file name" in info.value.message and "Rename" in info.value.hint
    assert set(tmp_path.rglob("*")) == before  # not even an empty staging folder


def test_a_type_the_importer_cannot_read_is_refused_before_writing(tmp_path):
    before = set(tmp_path.rglob("*"))
    for name in ("/etc/passwd", "report.xlsx"):
        with pytest.raises(DataError, match="Unsupported file type"):
            save_upload(name, io.BytesIO(b"x"))
    assert set(tmp_path.rglob("*")) == before
