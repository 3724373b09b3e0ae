"""Row-level validation with line numbers and reasons. Streams the file once, writes the valid canonical rows to
a temporary JSONL and keeps the rejected rows (with their reasons) for the operator to download."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..csv_safe import csv_bytes
from ..errors import DataError
from ..settings import get_settings
from .readers import read_records
from .shapes import ColumnMapping, normalize

MAX_KEPT_REJECTS = 50_000


@dataclass
class Rejected:
    line: int
    reason: str
    content: str


@dataclass
class ValidationReport:
    total_rows: int = 0
    valid_rows: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    reasons: Counter = field(default_factory=Counter)
    labels: Counter = field(default_factory=Counter)
    splits: Counter = field(default_factory=Counter)
    with_response: int = 0
    valid_path: Path | None = None  # canonical JSONL of the valid rows

    @property
    def n_rejected(self) -> int:
        return self.total_rows - self.valid_rows

    def summary(self) -> str:
        top = ", ".join(f"{n}× {r}" for r, n in self.reasons.most_common(4))
        return f"{self.valid_rows} of {self.total_rows} rows are valid" + (f"; rejected: {top}" if top else "")

    def problems(self, first: int = 5) -> str:
        """'2 of 32 rows have problems: line 5: malformed JSON …; line 20: empty response': the Data page and the
        CLI say it the same way, so the operator can find the first bad rows without opening the rejected file."""
        shown = [f"line {r.line}: {r.reason}" for r in self.rejected[:first]]
        more = self.n_rejected - len(shown)
        return (
            f"{self.n_rejected} of {self.total_rows} rows have problems"
            + (": " + "; ".join(shown) if shown else "")
            + (f"; and {more} more" if more > 0 else "")
        )

    def rejected_csv(self) -> bytes:
        """The rejected rows with their reasons, as CSV (cells neutralised so a spreadsheet will not run them)."""
        return csv_bytes(["line", "reason", "content"], ([r.line, r.reason, r.content] for r in self.rejected))

    def discard(self) -> None:
        if self.valid_path is not None:
            self.valid_path.unlink(missing_ok=True)


class LengthChecker:
    """Counts tokens with the student's tokenizer, as the student will see the row (chat template included)."""

    def __init__(self, tokenizer_path: str | Path, max_length: int) -> None:
        from transformers import AutoTokenizer

        self.tok = AutoTokenizer.from_pretrained(str(tokenizer_path))
        self.max_length = max_length
        self.overhead = self._template_overhead()

    def _template_overhead(self) -> int:
        if not getattr(self.tok, "chat_template", None):
            return 0
        msgs = [
            {"role": "system", "content": ""},
            {"role": "user", "content": ""},
            {"role": "assistant", "content": ""},
        ]
        return len(self.tok.apply_chat_template(msgs, tokenize=True, return_dict=False))

    def count(self, rows: list[dict]) -> list[int]:
        texts = [r["prompt"] for r in rows] + [r["response"] or "" for r in rows] + [r["system"] or "" for r in rows]
        ids = self.tok(texts, add_special_tokens=False)["input_ids"]
        n = len(rows)
        return [len(ids[i]) + len(ids[n + i]) + len(ids[2 * n + i]) + self.overhead for i in range(n)]


def _key(row: dict) -> bytes:
    norm = " ".join((row["prompt"] or "").lower().split()) + "\x1f" + " ".join((row["response"] or "").lower().split())
    return hashlib.blake2b(norm.encode(), digest_size=16).digest()


def _row_problem(row: dict, mapping: ColumnMapping) -> str | None:
    if not row["prompt"] or not row["prompt"].strip():
        return "empty prompt"
    if mapping.shape != "prompts" and (row["response"] is None or not row["response"].strip()):
        return "empty response"
    if mapping.label and not row["label"]:
        return "empty label"
    if row["split"] and row["split"] not in ("train", "validation", "test"):
        return f"unknown split '{row['split']}' (use train, validation or test)"
    return None


def validate_file(
    path: Path,
    fmt: str,
    mapping: ColumnMapping,
    *,
    tokenizer_path: str | Path | None = None,
    max_length: int | None = None,
    batch: int = 512,
) -> ValidationReport:
    """Validate every row. File-level problems raise DataError; row problems are reported, never fatal."""
    checker = LengthChecker(tokenizer_path, max_length) if tokenizer_path and max_length else None
    tmp_dir = get_settings().home / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    report = ValidationReport(valid_path=tmp_dir / f"valid-{uuid.uuid4().hex}.jsonl")
    seen: dict[bytes, int] = {}
    pending: list[tuple[int, dict, str]] = []

    def reject(line: int, reason: str, content: str) -> None:
        report.reasons[reason.split(" (")[0] if reason.startswith(("malformed", "missing")) else reason] += 1
        if len(report.rejected) < MAX_KEPT_REJECTS:
            report.rejected.append(Rejected(line, reason, content[:5000]))

    def flush(out) -> None:
        lengths = checker.count([r for _, r, _ in pending]) if checker else [None] * len(pending)
        for (line, row, raw), n_tok in zip(pending, lengths, strict=True):
            if n_tok is not None and n_tok > checker.max_length:
                reject(line, f"too long: {n_tok} tokens, over the student's max length {checker.max_length}", raw)
                continue
            row["n_tokens"] = n_tok
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            report.valid_rows += 1
            report.labels[row["label"]] += bool(row["label"])
            report.splits[row["split"] or "train"] += 1
            report.with_response += bool(row["response"])
        pending.clear()

    try:
        with open(report.valid_path, "w", encoding="utf-8") as out:
            for rec in read_records(path, fmt):
                report.total_rows += 1
                raw = rec.raw
                if rec.data is not None and not raw:
                    raw = json.dumps(rec.data, ensure_ascii=False, default=str)
                if rec.data is None:
                    reject(rec.line, rec.error, rec.raw)
                    continue
                try:
                    row = normalize(rec.data, mapping)
                except KeyError as exc:
                    reject(rec.line, f"missing column '{exc.args[0]}'", raw)
                    continue
                except (ValueError, TypeError, json.JSONDecodeError) as exc:
                    reject(rec.line, f"unusable row ({exc})", raw)
                    continue
                problem = _row_problem(row, mapping)
                if problem:
                    reject(rec.line, problem, raw)
                    continue
                key = _key(row)
                if key in seen:
                    reject(rec.line, f"duplicate of line {seen[key]}", raw)
                    continue
                seen[key] = rec.line
                row["line"] = rec.line
                pending.append((rec.line, row, raw))
                if len(pending) >= batch:
                    flush(out)
            flush(out)
    except BaseException:
        report.discard()
        raise
    report.labels = Counter({k: v for k, v in report.labels.items() if k})
    if report.total_rows == 0:
        report.discard()
        raise DataError("The file has no rows", "Check that it is not empty and that rows are not all blank.")
    return report
