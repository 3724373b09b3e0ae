"""Review teacher answers: see them with their flags, accept, reject or edit, and save a new dataset version."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import DataError
from ..models import Dataset


@dataclass
class ReviewDecisions:
    """Row ids are '<split>:<index>'. Rows not mentioned are accepted unless ``reject_flagged`` drops flagged ones."""

    rejected: set[str] = field(default_factory=set)
    edits: dict[str, str] = field(default_factory=dict)
    reject_flagged: bool = False


def reviewed_name(name: str) -> str:
    """'answers (reviewed)'; a second review of it: 'answers (reviewed 2)', not 'answers (reviewed) (reviewed)'."""
    m = re.fullmatch(r"(.*) \(reviewed(?: (\d+))?\)", name)
    if m is None:
        return f"{name} (reviewed)"
    return f"{m.group(1)} (reviewed {int(m.group(2) or 1) + 1})"


def review_rows(dataset_id: int, splits: tuple[str, ...] = ("train", "validation")) -> list[dict]:
    """The answered rows of a dataset, one dict each, with its id and flags (for the review table)."""
    from ..data.store import load_dataset_dict

    dd = load_dataset_dict(dataset_id)
    rows = []
    for split in splits:
        if split not in dd:
            continue
        part = dd[split]
        cols = part.column_names
        for i, r in enumerate(part):
            rows.append(
                {
                    "id": f"{split}:{i}",
                    "split": split,
                    "prompt": r["prompt"],
                    "answer": r["response"] or "",
                    "reasoning": r.get("reasoning") if "reasoning" in cols else None,
                    "reference": r.get("reference") if "reference" in cols else None,
                    "label": r.get("label"),
                    "flags": r.get("flags") or "" if "flags" in cols else "",
                }
            )
    return rows


def save_review(dataset_id: int, decisions: ReviewDecisions, name: str | None = None) -> Dataset:
    """A new dataset: rejected rows dropped, edits applied, flags cleared on edited rows. Parent = the reviewed one."""
    from datasets import DatasetDict

    from ..data.store import get_dataset, load_dataset_dict, save_dataset

    parent = get_dataset(dataset_id)
    dd = load_dataset_dict(dataset_id)
    parts = {}
    n_rejected = n_edited = 0
    for split, part in dd.items():
        keep, edits = [], {}
        for i, flags in enumerate(part["flags"] if "flags" in part.column_names else [""] * len(part)):
            rid = f"{split}:{i}"
            if rid in decisions.rejected or (decisions.reject_flagged and flags and rid not in decisions.edits):
                n_rejected += 1
                continue
            keep.append(i)
            if rid in decisions.edits:
                edits[len(keep) - 1] = decisions.edits[rid]
        sub = part.select(keep)
        if edits:
            n_edited += len(edits)

            def apply(row, idx, edits=edits):
                if idx in edits:
                    row["response"] = edits[idx]
                    if "flags" in row:
                        row["flags"] = ""
                return row

            sub = sub.map(apply, with_indices=True)
        if len(sub):
            parts[split] = sub
    if "train" not in parts:
        raise DataError("Every training row was rejected", "Accept at least some answers before saving.")
    info = {
        **parent.info,
        "review": {"rejected": n_rejected, "edited": n_edited, "reject_flagged": decisions.reject_flagged},
    }
    return save_dataset(
        DatasetDict(parts),
        project_id=parent.project_id,
        name=name or reviewed_name(parent.name),
        stage="review",
        parent_id=parent.id,
        info=info,
    )
