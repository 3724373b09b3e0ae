"""Train / validation / test splits, stratified by label where there is one; reproducible by seed."""

from __future__ import annotations

import random
from collections import defaultdict

from pydantic import BaseModel, ConfigDict, Field

from ..errors import DataError
from ..models import Dataset
from .store import get_dataset, load_dataset_dict, save_dataset


class SplitConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    validation: float = Field(0.1, ge=0, lt=1, description="Share of the training rows held out for validation.")
    test: float = Field(
        0.1,
        ge=0,
        lt=1,
        description="Share held out for the final test (ignored when the data already has a test part).",
    )
    seed: int = Field(42, description="Same seed, same split.")
    stratify: bool = Field(True, description="Keep each label's share the same in every part.")


def _take(indices: list[int], share: float, rnd: random.Random) -> tuple[list[int], list[int]]:
    idx = indices[:]
    rnd.shuffle(idx)
    k = round(len(idx) * share)
    if share > 0 and k == 0 and len(idx) > 1:
        k = 1
    return idx[k:], idx[:k]


def split_indices(labels: list[str | None], share: float, seed: int, stratify: bool) -> tuple[list[int], list[int]]:
    """(kept, held out) row indices; with stratify, each label contributes its own share."""
    rnd = random.Random(seed)
    groups: dict[str | None, list[int]] = defaultdict(list)
    for i, lab in enumerate(labels):
        groups[lab if stratify else None].append(i)
    kept, held = [], []
    for key in sorted(groups, key=lambda k: (k is None, str(k))):
        a, b = _take(groups[key], share, rnd)
        kept += a
        held += b
    if share > 0 and not held and len(kept) > 1:  # every label group too small to give a row: take one anyway
        held.append(kept.pop(rnd.randrange(len(kept))))
    return sorted(kept), sorted(held)


def split_dataset(dataset_id: int, config: SplitConfig | None = None, name: str | None = None) -> Dataset:
    """A new dataset with train / validation / test parts carved from this one's training rows."""
    from datasets import DatasetDict

    config = config or SplitConfig()
    parent = get_dataset(dataset_id)
    dd = load_dataset_dict(dataset_id)
    if "train" not in dd:
        raise DataError("The dataset has no training part to split", "Import it again.")
    train = dd["train"]
    labels = list(train["label"]) if config.stratify else [None] * len(train)
    has_labels = any(labels)
    out = {k: v for k, v in dd.items() if k != "train"}
    if config.test > 0 and "test" not in out:
        keep, held = split_indices(labels, config.test, config.seed, has_labels and config.stratify)
        out["test"], train = train.select(held), train.select(keep)
        labels = [labels[i] for i in keep]
    if config.validation > 0:
        keep, held = split_indices(labels, config.validation, config.seed + 1, has_labels and config.stratify)
        out["validation"], train = train.select(held), train.select(keep)
    if len(train) == 0:
        raise DataError("Nothing would be left to train on", "Lower the validation and test shares.")
    result = DatasetDict({"train": train, **{k: out[k] for k in ("validation", "test") if k in out and len(out[k])}})
    info = {**parent.info, "split": config.model_dump(), "stratified": bool(has_labels and config.stratify)}
    return save_dataset(
        result,
        project_id=parent.project_id,
        name=name or f"{parent.name} (split)",
        stage="split",
        parent_id=parent.id,
        info=info,
    )
