"""Statistics the Data page charts: rows per part, token (or word) lengths, label balance."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class DatasetStats:
    rows: dict[str, int]
    unit: str  # "tokens" when counted with the student's tokenizer, else "words"
    prompt_lengths: list[int] = field(default_factory=list)
    response_lengths: list[int] = field(default_factory=list)
    labels: dict[str, dict[str, int]] = field(default_factory=dict)  # split -> label -> count
    duplicates_removed: int = 0
    rejected: int = 0


def dataset_stats(dataset_id: int, tokenizer_path: str | Path | None = None, max_rows: int = 20_000) -> DatasetStats:
    from .store import get_dataset, load_dataset_dict

    meta = get_dataset(dataset_id)
    dd = load_dataset_dict(dataset_id)
    tok = None
    if tokenizer_path:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(tokenizer_path))
    stats = DatasetStats(rows={k: len(v) for k, v in dd.items()}, unit="tokens" if tok else "words")
    for split, part in dd.items():
        labels: dict[str, int] = {}
        for lab in list(part["label"]):
            if lab:
                labels[lab] = labels.get(lab, 0) + 1
        if labels:
            stats.labels[split] = dict(sorted(labels.items()))
    sample = dd["train"] if "train" in dd else next(iter(dd.values()))
    sample = sample.select(range(min(len(sample), max_rows)))
    prompts, responses = list(sample["prompt"]), [r or "" for r in sample["response"]]
    if tok is not None:
        stats.prompt_lengths = [len(x) for x in tok(prompts, add_special_tokens=False)["input_ids"]]
        stats.response_lengths = [len(x) for x in tok(responses, add_special_tokens=False)["input_ids"]]
    else:
        stats.prompt_lengths = [len(p.split()) for p in prompts]
        stats.response_lengths = [len(r.split()) for r in responses]
    reasons = meta.info.get("reasons", {})
    stats.duplicates_removed = sum(n for r, n in reasons.items() if r.startswith("duplicate"))
    stats.rejected = int(meta.info.get("rejected", 0))
    return stats


def preview_rows(
    dataset_id: int, tokenizer_path: str | Path, n: int = 3, split: str = "train", system_prompt: str | None = None
) -> list[str]:
    """Rows rendered exactly as the student will see them: through its chat template."""
    from transformers import AutoTokenizer

    from .store import load_dataset_dict

    tok = AutoTokenizer.from_pretrained(str(tokenizer_path))
    dd = load_dataset_dict(dataset_id)
    part = dd[split] if split in dd else next(iter(dd.values()))
    out = []
    for row in part.select(range(min(n, len(part)))):
        msgs = []
        system = row.get("system") or system_prompt
        if system:
            msgs.append({"role": "system", "content": system})
        msgs.append({"role": "user", "content": row["prompt"]})
        if row.get("response"):
            msgs.append({"role": "assistant", "content": row["response"]})
        if getattr(tok, "chat_template", None):
            out.append(tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=not row.get("response")))
        else:
            out.append("\n".join(m["content"] for m in msgs))
    return out
