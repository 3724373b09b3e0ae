"""How a teacher is asked, for distillation and for evaluation alike: its instructions, the allowed answers of a
labelled task (stated in the request), and labelled examples from the training part picked for each prompt (the
most similar ones: a small model copies a close example's label far better than a distant one's)."""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from .teachers import TeacherConfig, chat_messages

_WORD = re.compile(r"[a-z0-9]+")
_PUNCT = str.maketrans("", "", string.punctuation)
_STOP_WORDS = (
    "a an and are at be but by can do for from has have how i in is it me my no not of on or our so that the there "
    "this to was we what when why with you your"
)
_STOP = frozenset(_STOP_WORDS.split())


def _bag(text: str) -> Counter:
    return Counter(w for w in _WORD.findall(text.lower()) if w not in _STOP)


def task_labels(rows: Sequence[dict], limit: int = 20) -> list[str]:
    """The label set of a classification task: every row labelled, with a few (at least two) distinct labels."""
    labels = {r.get("label") for r in rows}
    if not rows or None in labels or "" in labels or not 2 <= len(labels) <= min(limit, max(len(rows) // 2, 2)):
        return []
    return sorted(labels)


CHARS_PER_TOKEN = 3  # a cautious average for English text: fewer characters per token means more tokens allowed
FREE_TEXT_TOKENS = 256  # when there is nothing to size an answer from


def answer_tokens(references: Sequence[str], labels: Sequence[str] = (), cap: int = 1024) -> int:
    """How many tokens an answer may take: room for the longest label, or for the longest reference answer with a
    quarter more, so that an answer of the task's length is never cut off (and a label run does not wait for 256)."""
    texts = [t for t in (labels or references) if t]
    if not texts:
        return FREE_TEXT_TOKENS
    longest = max(len(t) for t in texts)
    need = math.ceil(longest / CHARS_PER_TOKEN) + 8
    return int(min(cap, max(16, need if labels else math.ceil(need * 1.25))))


@dataclass
class Example:
    prompt: str
    answer: str


class ExampleIndex:
    """Labelled examples to show the teacher, picked per prompt by word overlap (cosine of word counts)."""

    def __init__(self, examples: Sequence[Example]) -> None:
        self.examples = list(examples)
        self._bags = [_bag(e.prompt) for e in self.examples]
        self._norms = [math.sqrt(sum(v * v for v in b.values())) or 1.0 for b in self._bags]

    @classmethod
    def from_rows(cls, rows: Sequence[dict]) -> ExampleIndex:
        return cls([Example(r["prompt"], r.get("label") or r["response"]) for r in rows if r.get("prompt")])

    def nearest(self, prompt: str, k: int) -> list[Example]:
        """The k most similar examples, the closest last (next to the question); the prompt itself never."""
        if k <= 0 or not self.examples:
            return []
        q = _bag(prompt)
        nq = math.sqrt(sum(v * v for v in q.values())) or 1.0
        scored = []
        for i, (bag, norm) in enumerate(zip(self._bags, self._norms, strict=True)):
            if self.examples[i].prompt == prompt:
                continue  # a prompt must not be answered by its own label
            scored.append((sum(q[w] * bag[w] for w in q) / (nq * norm), -i))
        best = sorted(scored, reverse=True)[:k]
        return [self.examples[-i] for _, i in reversed(best)]


def labels_instruction(labels: Sequence[str]) -> str:
    return f"Answer with exactly one of: {', '.join(labels)}. Give only that word, nothing else."


@dataclass
class Asking:
    """Everything that shapes a teacher's request besides the prompt."""

    system: str
    few_shot: list[dict[str, str]]
    labels: list[str]
    example_shots: int
    index: ExampleIndex | None = None

    def messages(self, prompt: str, row_system: str | None = None) -> list[dict[str, str]]:
        system = "\n\n".join(
            s for s in (self.system, labels_instruction(self.labels) if self.labels else "", row_system or "") if s
        )
        shots = list(self.few_shot)
        if self.index is not None:
            shots += [{"user": e.prompt, "assistant": e.answer} for e in self.index.nearest(prompt, self.example_shots)]
        return chat_messages(system, shots, prompt)


def asking(teacher: TeacherConfig, train_rows: Sequence[dict], system: str | None = None) -> Asking:
    """How to ask this teacher about this data: the labels the operator named, or else the data's own; examples
    from the training part when the teacher is set to use them."""
    labels = list(teacher.labels) or task_labels(train_rows)
    index = ExampleIndex.from_rows(train_rows) if teacher.example_shots and train_rows else None
    return Asking(
        system=teacher.system_prompt if system is None else system,
        few_shot=list(teacher.few_shot),
        labels=labels,
        example_shots=teacher.example_shots,
        index=index,
    )


def cache_arg(model) -> str:
    """The name under which this transformers version's forward takes a key/value cache."""
    import inspect

    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def choose_labels(model, tok, prompts: list[list[int]], labels: Sequence[str]) -> list[tuple[int, list[float]]]:
    """For each prompt (token ids), the label the model finds most likely: every label's tokens (and the end of
    the turn) scored after the prompt, from one shared pass over the prompts. Returns (index, log-probs)."""
    import torch

    end = tok.eos_token_id
    label_ids = [tok(lab, add_special_tokens=False)["input_ids"] + ([end] if end is not None else []) for lab in labels]
    pad = tok.pad_token_id if tok.pad_token_id is not None else end
    width = max(len(p) for p in prompts)
    ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts])
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, logits_to_keep=1)
        first = torch.log_softmax(out.logits[:, -1].float(), dim=-1)
        scores = torch.zeros(len(prompts), len(labels))
        for j, lab in enumerate(label_ids):
            scores[:, j] = first[:, lab[0]]
            if len(lab) > 1:
                cache = getattr(out, "cache", None) or out.past_key_values
                rest = torch.tensor([lab[:-1]] * len(prompts))
                step_mask = torch.cat([mask, torch.ones_like(rest)], dim=1)
                step_pos = positions[:, -1:] + 1 + torch.arange(len(lab) - 1)
                more = model(
                    input_ids=rest, attention_mask=step_mask, position_ids=step_pos, **{cache_arg(model): cache}
                )
                logp = torch.log_softmax(more.logits.float(), dim=-1)
                for t in range(1, len(lab)):
                    scores[:, j] += logp[:, t - 1, lab[t]]
                cache.crop(-(len(lab) - 1))  # back to the prompts alone for the next label
    return [(int(row.argmax()), row.tolist()) for row in scores]


def normalize(text: str) -> str:
    """Lower case, no punctuation, single spaces: 'Billing.' and 'billing' are the same answer."""
    return " ".join(text.lower().translate(_PUNCT).split())


def predicted_label(answer: str, labels: Sequence[str]) -> str | None:
    """The label an answer gives: the whole answer when it is a label, else the label named first in it
    (as a word, case-insensitive); None when it names none."""
    norm = normalize(answer)
    by_norm = {normalize(label): label for label in labels}
    if norm in by_norm:
        return by_norm[norm]
    first: tuple[int, str] | None = None
    for n, label in by_norm.items():
        if not n:
            continue
        m = re.search(rf"\b{re.escape(n)}\b", norm)
        if m and (first is None or m.start() < first[0]):
            first = (m.start(), label)
    return first[1] if first else None


def prompt_ids(tok, messages: list[dict]) -> list[int]:
    return list(tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=False))
