"""Models on this machine answering evaluation prompts: transformers (batched, left padding) and
onnxruntime-genai (one at a time, an adapter switched on where asked). Both also score the reference answer
(its negative log-likelihood) for perplexity."""

from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

from ..teaching import prompt_ids


@dataclass
class Answer:
    text: str
    tokens: int
    finish_reason: str
    latency_ms: float
    ttft_ms: float | None = None
    prompt_tokens: int = 0
    nll: float | None = None  # of the reference answer, when one was given
    ref_tokens: int | None = None


def _tokenizer(path: str):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path, padding_side="left")
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def _eos_ids(tok, generation_eos) -> set[int]:
    ids = generation_eos if isinstance(generation_eos, list) else [generation_eos]
    return {int(i) for i in ids if i is not None} | ({tok.eos_token_id} if tok.eos_token_id is not None else set())


class TransformersRunner:
    def __init__(self, path: str) -> None:
        import torch
        from transformers import AutoModelForCausalLM

        from ..model_folder import inspect_model_folder

        inspect_model_folder(path)
        self.torch = torch
        self.tok = _tokenizer(path)
        self.model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
        self.eos = _eos_ids(self.tok, self.model.generation_config.eos_token_id)

    @classmethod
    def from_loaded(cls, model, tok) -> TransformersRunner:
        """A runner on a model already in memory (a fine-tune measuring itself); left padding for generating."""
        import torch

        runner = cls.__new__(cls)
        runner.torch, runner.model = torch, model
        runner.tok = copy.copy(tok)
        runner.tok.padding_side = "left"
        if runner.tok.pad_token is None:
            runner.tok.pad_token = runner.tok.eos_token
        runner.eos = _eos_ids(runner.tok, getattr(model.generation_config, "eos_token_id", None))
        return runner

    def _decode(self, new: list[int]) -> tuple[str, int, str]:
        end = next((j for j, t in enumerate(new) if t in self.eos or t == self.tok.pad_token_id), None)
        body = new[:end] if end is not None else new
        return (
            self.tok.decode(body, skip_special_tokens=True).strip(),
            len(body),
            "stop" if end is not None else "length",
        )

    def answer(self, batch: list[list[dict]], max_new_tokens: int, references: list[str] | None = None) -> list[Answer]:
        """Answer prompts together (greedy). With references, each one's likelihood comes from the same pass that
        reads the prompts (prompt + reference in one forward; the cache is cut back to the prompt for generating).
        One prompt alone also measures the time to its first token."""
        from transformers import StoppingCriteria, StoppingCriteriaList

        torch, tok = self.torch, self.tok
        first: list[float] = []

        class FirstToken(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):
                if not first:
                    first.append(time.perf_counter())
                return torch.zeros(input_ids.shape[0], dtype=torch.bool)

        ids = [prompt_ids(tok, m) for m in batch]
        refs = [tok(r, add_special_tokens=False)["input_ids"] for r in references] if references else [[] for _ in ids]
        width, span = max(len(x) for x in ids), max(len(r) for r in refs)
        pad = tok.pad_token_id
        # prompts padded on the left (they end together), references on the right after them
        seqs = torch.tensor(
            [[pad] * (width - len(x)) + x + r + [pad] * (span - len(r)) for x, r in zip(ids, refs, strict=True)]
        )
        mask = torch.tensor(
            [
                [0] * (width - len(x)) + [1] * (len(x) + len(r)) + [0] * (span - len(r))
                for x, r in zip(ids, refs, strict=True)
            ]
        )
        t0 = time.perf_counter()
        with torch.no_grad():
            read = self.model(
                input_ids=seqs,
                attention_mask=mask,
                position_ids=(mask.cumsum(-1) - 1).clamp(min=0),
                use_cache=True,
                logits_to_keep=span + 1,  # position width-1+j predicts reference token j
            )
            scores = self._reference_nll(read.logits[:, :span], refs) if span else [(0.0, 0)] * len(ids)
            cache = read.past_key_values
            cache.crop(-(span + 1))  # back to the prompt less its last token: generation goes on from there
            out = self.model.generate(
                input_ids=seqs[:, :width],
                attention_mask=mask[:, :width],
                past_key_values=cache,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                temperature=None,
                top_p=None,
                top_k=None,
                pad_token_id=pad,
                stopping_criteria=StoppingCriteriaList([FirstToken()]),
            )
        secs = time.perf_counter() - t0
        answers = []
        for i, seq in enumerate(out):
            text, n, finish = self._decode(seq[width:].tolist())
            answers.append(
                Answer(
                    text=text,
                    tokens=n,
                    finish_reason=finish,
                    latency_ms=secs * 1000 / len(batch),
                    ttft_ms=(first[0] - t0) * 1000 if first and len(batch) == 1 else None,
                    prompt_tokens=len(ids[i]),
                    nll=scores[i][0] if refs[i] else None,
                    ref_tokens=scores[i][1] or None,
                )
            )
        return answers

    def choose(self, batch: list[list[dict]], labels: list[str]) -> list[Answer]:
        """A labelled task: the label the model finds most likely after each prompt (see teaching.choose_labels)."""
        from ..teaching import choose_labels

        ids = [prompt_ids(self.tok, m) for m in batch]
        t0 = time.perf_counter()
        picks = choose_labels(self.model, self.tok, ids, labels)
        secs = time.perf_counter() - t0
        return [
            Answer(
                text=labels[i],
                tokens=len(self.tok(labels[i], add_special_tokens=False)["input_ids"]),
                finish_reason="stop",
                latency_ms=secs * 1000 / len(batch),
                ttft_ms=secs * 1000 if len(batch) == 1 else None,
                prompt_tokens=len(p),
            )
            for p, (i, _) in zip(ids, picks, strict=True)
        ]

    def _reference_nll(self, logits, refs: list[list[int]]) -> list[tuple[float, int]]:
        torch = self.torch
        logp = torch.log_softmax(logits.float(), dim=-1)
        out = []
        for i, r in enumerate(refs):
            if not r:
                out.append((0.0, 0))
                continue
            picked = logp[i, : len(r)].gather(1, torch.tensor(r)[:, None])
            out.append((float(-picked.sum()), len(r)))
        return out


class OnnxRunner:
    """onnxruntime-genai alone (its own tokenizer, no PyTorch): the memory measured is what a deployment needs."""

    def __init__(self, path: str, adapter: dict | None = None) -> None:
        import onnxruntime_genai as og

        self.og = og
        self.model = og.Model(path)
        self.tokenizer = og.Tokenizer(self.model)
        search = json.loads((Path(path) / "genai_config.json").read_text()).get("model", {})
        eos = search.get("eos_token_id")
        self.eos = {int(i) for i in (eos if isinstance(eos, list) else [eos]) if i is not None}
        self.adapters, self.adapter = None, None
        if adapter:
            self.adapters = og.Adapters(self.model)
            self.adapters.load(str(Path(path) / adapter["file"]), adapter["name"])
            self.adapter = adapter["name"]

    def _prompt(self, messages: list[dict]) -> list[int]:
        text = self.tokenizer.apply_chat_template(json.dumps(messages), add_generation_prompt=True)
        return [int(t) for t in self.tokenizer.encode(text)]

    def _encode(self, text: str) -> list[int]:
        return [int(t) for t in self.tokenizer.encode(text)]

    def _generator(self, max_length: int):
        params = self.og.GeneratorParams(self.model)
        params.set_search_options(max_length=max_length, do_sample=False)
        gen = self.og.Generator(self.model, params)
        if self.adapter:
            gen.set_active_adapter(self.adapters, self.adapter)
        return gen

    def answer(self, batch: list[list[dict]], max_new_tokens: int, references: list[str] | None = None) -> list[Answer]:
        answers = [self._one(m, max_new_tokens) for m in batch]
        if references:
            for a, (nll, n) in zip(answers, self.nll(batch, references), strict=True):
                a.nll, a.ref_tokens = (nll, n) if n else (None, None)
        return answers

    def _one(self, messages: list[dict], max_new_tokens: int) -> Answer:
        ids = self._prompt(messages)
        t0 = time.perf_counter()
        gen = self._generator(len(ids) + max_new_tokens)
        gen.append_tokens(ids)
        new: list[int] = []
        ttft = None
        while not gen.is_done():
            gen.generate_next_token()
            token = int(gen.get_next_tokens()[0])
            if ttft is None:
                ttft = (time.perf_counter() - t0) * 1000
            if token in self.eos:
                break
            new.append(token)
        finished = len(new) < max_new_tokens
        return Answer(
            text=self.tokenizer.decode(new).strip() if new else "",
            tokens=len(new),
            finish_reason="stop" if finished else "length",
            latency_ms=(time.perf_counter() - t0) * 1000,
            ttft_ms=ttft,
            prompt_tokens=len(ids),
        )

    def nll(self, batch: list[list[dict]], references: list[str]) -> list[tuple[float, int]]:
        out = []
        for messages, ref in zip(batch, references, strict=True):
            prompt, answer = self._prompt(messages), self._encode(ref)
            gen = self._generator(len(prompt) + len(answer) + 1)
            out.append((answer_nll(gen, prompt, answer), len(answer)))
        return out


def answer_nll(gen, prompt: list[int], answer: list[int]) -> float:
    """Negative log-likelihood of ``answer`` after ``prompt``, token by token through an onnxruntime-genai
    generator (it exposes the next token's logits, not the whole sequence's)."""
    import numpy as np

    if not answer:
        return 0.0
    gen.append_tokens(prompt)
    total = 0.0
    for t in answer:
        logits = np.asarray(gen.get_logits(), dtype=np.float64).reshape(-1)
        m = logits.max()
        total += float(m + math.log(np.exp(logits - m).sum()) - logits[t])
        gen.append_tokens([t])
    return total


def load_runner(runtime: str, path: str, adapter: dict | None = None):
    if runtime == "transformers":
        return TransformersRunner(path)
    return OnnxRunner(path, adapter)
