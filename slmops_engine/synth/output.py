"""Write the answered dataset: teacher answers replace the responses of the answered parts (the original response
is kept as `reference`), other parts are copied unchanged; every answer carries its review flags."""

from __future__ import annotations

from ..data.store import SPLITS
from ..models import Dataset
from ..naming import answers_name
from .cache import cached
from .config import SynthConfig
from .parsing import flag_answers


def _compose(cfg: SynthConfig, answer: str, reasoning: str | None) -> str:
    if cfg.learn_reasoning and reasoning:
        return f"<think>\n{reasoning}\n</think>\n{answer}"
    return answer


def build_answered(
    cfg: SynthConfig, dd, items, tracker, job_id: int | None, labels: list[str] | None = None
) -> Dataset:
    from datasets import Dataset as HFDataset
    from datasets import DatasetDict

    from ..data.store import get_dataset, save_dataset

    answers = cached([it.key for it in items])
    by_split: dict[str, list] = {}
    for it in items:
        if it.key in answers:
            by_split.setdefault(it.split, []).append((it, answers[it.key]))
    parts = {}
    for split in sorted(dd, key=lambda s: ("train", "validation", "test").index(s) if s in SPLITS else 9):
        part = dd[split]
        if split not in by_split:
            rows = [
                {**r, "reference": r.get("response"), "reasoning": None, "flags": "", "teacher_tokens": 0} for r in part
            ]
        else:
            pairs = by_split[split]
            flags = flag_answers([a.answer for _, a in pairs], [a.finish_reason for _, a in pairs], labels)
            rows = []
            for (it, a), fl in zip(pairs, flags, strict=True):
                src = part[it.row]
                rows.append(
                    {
                        **src,
                        "response": _compose(cfg, a.answer, a.reasoning),
                        "reference": src.get("response"),
                        "reasoning": a.reasoning,
                        "flags": ",".join(fl),
                        "teacher_tokens": a.completion_tokens,
                    }
                )
        if rows:
            parts[split] = HFDataset.from_list(rows)
    parent = get_dataset(cfg.dataset_id)
    t = cfg.teacher
    info = {
        **{k: v for k, v in parent.info.items() if k in ("shape", "labels", "mapping")},
        "shape": "prompt_response",
        "shape_label": "Prompt and teacher answer",
        "has_responses": True,
        "teacher": {"provider": t.provider.value, "model": t.model, "base_url": t.base_url, "local_path": t.local_path},
        "synth": cfg.model_dump(mode="json", exclude={"teacher"}),
        "system_prompt": t.system_prompt,
        "answered": len(answers),
        "asked": tracker.total,
        "failed": dict(tracker.failed),
        "retries": dict(tracker.retries),
        "prompt_tokens": tracker.prompt_tokens,
        "completion_tokens": tracker.completion_tokens,
        "cost": round(tracker.cost, 6),
        "flagged": sum(1 for p in parts.values() for f in p["flags"] if f),
    }
    name = cfg.output_name or answers_name(parent.name, t.model or "local teacher")
    return save_dataset(
        DatasetDict(parts),
        project_id=cfg.project_id if cfg.project_id is not None else parent.project_id,
        name=name,
        stage="synth",
        parent_id=parent.id,
        info=info,
        job_id=job_id,
    )
