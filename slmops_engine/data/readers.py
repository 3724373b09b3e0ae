"""Read JSONL, JSON, CSV, Parquet, plain text and saved Hugging Face dataset folders as a stream of records.

Each record comes with its line (or row) number so that every problem can be reported where it is. Problems with
the file as a whole (binary, too large, not parseable at all) raise DataError before anything is stored."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DataError

FORMATS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".txt": "text",
}
TEXT_FORMATS = {"jsonl", "json", "csv", "text"}
PARQUET_MAGIC = b"PAR1"
MB = 1024 * 1024


@dataclass
class RawRecord:
    line: int
    data: dict[str, Any] | None  # None when the row itself could not be read
    error: str = ""
    raw: str = ""


def detect_format(path: Path) -> str:
    if path.is_dir():
        return "hf_folder"
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DataError(
            f"Unsupported file type '{path.suffix or path.name}'",
            "Use JSONL, JSON, CSV, Parquet or plain text (one prompt per line).",
        )
    return fmt


def check_file(path: Path, limit_mb: int) -> str:
    """File-level checks: exists, size limit, not binary (for text formats). Returns the format."""
    if not path.exists():
        raise DataError(f"No file at {path}", "Check the path.")
    fmt = detect_format(path)
    if fmt == "hf_folder":
        return fmt
    size = path.stat().st_size
    if size > limit_mb * MB:
        raise DataError(
            f"The file is {size / MB:.0f} MB, over the {limit_mb} MB limit",
            "Split it into smaller files, or raise SLMOPS_UPLOAD_LIMIT_MB.",
        )
    if size == 0:
        raise DataError("The file is empty", "Choose a file with at least one row.")
    with open(path, "rb") as f:
        head = f.read(8192)
    if fmt == "parquet":
        if not head.startswith(PARQUET_MAGIC):
            raise DataError("The file is not a Parquet file", "Export it again as Parquet, or rename it.")
    elif b"\x00" in head or head.startswith(PARQUET_MAGIC):
        raise DataError(
            "The file looks binary, not text",
            f"A {path.suffix} file must be text; was a spreadsheet or archive uploaded by mistake?",
        )
    return fmt


def _decoded_lines(path: Path) -> Iterator[tuple[int, str | None, bytes]]:
    """(line number, text or None when not UTF-8, raw bytes). Streams: never loads the whole file."""
    with open(path, "rb") as f:
        for n, raw in enumerate(f, start=1):
            if n == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                yield n, raw.decode("utf-8").rstrip("\r\n"), raw
            except UnicodeDecodeError:
                yield n, None, raw


NOT_UTF8 = "not UTF-8 text (save the file as UTF-8)"


def read_records(path: Path, fmt: str) -> Iterator[RawRecord]:
    if fmt == "jsonl":
        yield from _read_jsonl(path)
    elif fmt == "text":
        for n, text, raw in _decoded_lines(path):
            if text is None:
                yield RawRecord(n, None, NOT_UTF8, raw.decode("utf-8", "replace"))
            elif text.strip():
                yield RawRecord(n, {"prompt": text})
    elif fmt == "csv":
        yield from _read_csv(path)
    elif fmt == "json":
        yield from _read_json(path)
    elif fmt == "parquet":
        yield from _read_parquet(path)
    elif fmt == "hf_folder":
        yield from _read_hf_folder(path)
    else:  # pragma: no cover - detect_format guards this
        raise DataError(f"Unknown format {fmt}")


def _read_jsonl(path: Path) -> Iterator[RawRecord]:
    for n, text, raw in _decoded_lines(path):
        if text is None:
            yield RawRecord(n, None, NOT_UTF8, raw.decode("utf-8", "replace"))
            continue
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            yield RawRecord(n, None, f"malformed JSON ({exc.msg} at column {exc.colno})", text)
            continue
        if not isinstance(obj, dict):
            yield RawRecord(n, None, f"expected a JSON object, found {type(obj).__name__}", text)
            continue
        yield RawRecord(n, obj)


def _read_json(path: Path) -> Iterator[RawRecord]:
    try:
        with open(path, encoding="utf-8-sig") as f:
            obj = json.load(f)
    except UnicodeDecodeError as exc:
        raise DataError("The file is not UTF-8 text", "Save it as UTF-8 and upload it again.") from exc
    except json.JSONDecodeError as exc:
        raise DataError(
            f"The JSON file is malformed at line {exc.lineno}, column {exc.colno}: {exc.msg}",
            "Fix the JSON, or use JSONL (one object per line) so one bad row does not sink the file.",
        ) from exc
    if isinstance(obj, dict):
        # {"data": [...]} or {"train": [...], "test": [...]}: take list values, remembering the split name.
        lists = {k: v for k, v in obj.items() if isinstance(v, list)}
        if not lists:
            raise DataError(
                "The JSON file holds one object, not a list of rows", 'Use a list of objects: [{"prompt": ...}, ...].'
            )
        n = 0
        for key, rows in lists.items():
            for row in rows:
                n += 1
                if isinstance(row, dict) and key in ("train", "validation", "test") and "split" not in row:
                    row = {**row, "split": key}
                yield _json_row(n, row)
        return
    if not isinstance(obj, list):
        raise DataError("The JSON file does not hold a list of rows", "Use a list of objects.")
    for n, row in enumerate(obj, start=1):
        yield _json_row(n, row)


def _json_row(n: int, row: Any) -> RawRecord:
    if isinstance(row, dict):
        return RawRecord(n, row)
    if isinstance(row, str):
        return RawRecord(n, {"prompt": row})
    return RawRecord(n, None, f"expected an object, found {type(row).__name__}", json.dumps(row)[:500])


def _read_csv(path: Path) -> Iterator[RawRecord]:
    with open(path, "rb") as f:
        sample = f.read(65536)
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(sample) - 4:  # not just a multi-byte character cut by the sample's end
            raise DataError("The CSV file is not UTF-8 text", "Save it as 'CSV UTF-8' and upload it again.") from exc
    delimiter = _delimiter(sample.decode("utf-8", errors="ignore"), path.suffix.lower())
    with open(path, encoding="utf-8-sig", errors="strict", newline="") as f:
        reader = csv.DictReader(f, delimiter=delimiter)
        if not reader.fieldnames or all(not (h or "").strip() for h in reader.fieldnames):
            raise DataError(
                "The CSV file has no header row", "The first row must name the columns, e.g. prompt,response."
            )
        try:
            for row in reader:
                line = reader.line_num
                if None in row:
                    yield RawRecord(line, None, "more cells than header columns", _csv_raw(row))
                    continue
                if all(v in (None, "") for v in row.values()):
                    continue
                yield RawRecord(line, {k.strip(): v for k, v in row.items() if k is not None})
        except UnicodeDecodeError as exc:
            raise DataError("The CSV file is not UTF-8 text", "Save it as 'CSV UTF-8' and upload it again.") from exc
        except csv.Error as exc:
            raise DataError(
                f"The CSV file is malformed near line {reader.line_num}: {exc}",
                'Check quoting (a stray " often causes this).',
            ) from exc


def _delimiter(sample: str, suffix: str) -> str:
    """The file's own delimiter, as csv.Sniffer reads it from the first lines: a spreadsheet set to a European
    locale writes ';' into a .csv, and a .csv can hold tabs. The header row decides when the sniffer is unsure or
    picks a character the header does not use (a one-column file of sentences with ';' in them stays one column);
    without either, the extension's usual one."""
    default = "\t" if suffix == ".tsv" else ","
    lines = sample.lstrip("\ufeff").splitlines()
    header = lines[0] if lines else ""
    if default in header:
        return default
    try:
        sniffed = csv.Sniffer().sniff("\n".join(lines[:50]), delimiters=",\t;|").delimiter
    except csv.Error:
        return default
    return sniffed if sniffed in header else default


def _csv_raw(row: dict) -> str:
    buf = io.StringIO()
    csv.writer(buf).writerow([v for v in row.values() if not isinstance(v, list)] + (row.get(None) or []))
    return buf.getvalue().strip()


def _iter_arrow_rows(table_batches) -> Iterator[RawRecord]:
    n = 0
    for batch in table_batches:
        for row in batch.to_pylist():
            n += 1
            yield RawRecord(n, row)


def _read_parquet(path: Path) -> Iterator[RawRecord]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for corrupt files
        raise DataError(f"The Parquet file cannot be read: {exc}", "Export it again.") from exc
    yield from _iter_arrow_rows(pf.iter_batches(batch_size=5000))


def _read_hf_folder(path: Path) -> Iterator[RawRecord]:
    from datasets import DatasetDict, load_from_disk

    try:
        ds = load_from_disk(str(path))
    except Exception as exc:  # noqa: BLE001
        raise DataError(
            f"{path} is not a saved Hugging Face dataset: {exc}", "Choose a folder made with Dataset.save_to_disk."
        ) from exc
    parts = ds.items() if isinstance(ds, DatasetDict) else [("train", ds)]
    n = 0
    for split, d in parts:
        for row in d.iter(batch_size=1000):
            keys = list(row)
            for i in range(len(row[keys[0]]) if keys else 0):
                n += 1
                rec = {k: row[k][i] for k in keys}
                if isinstance(ds, DatasetDict) and "split" not in rec:
                    rec["split"] = split
                yield RawRecord(n, rec)
