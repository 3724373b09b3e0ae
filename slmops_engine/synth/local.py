"""A teacher on this machine: batched generation with transformers (the offline demo's prompted model)."""

from __future__ import annotations

import time
from pathlib import Path

from .remote import Reply


class LocalTeacher:
    def __init__(self, path: str | Path, *, temperature: float, max_tokens: int) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from ..model_folder import inspect_model_folder

        inspect_model_folder(path)  # clear errors before a slow load
        self.torch = torch
        self.tok = AutoTokenizer.from_pretrained(str(path), padding_side="left")
        if self.tok.pad_token is None:
            self.tok.pad_token = self.tok.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32).eval()
        self.temperature, self.max_tokens = temperature, max_tokens

    def generate(self, conversations: list[list[dict[str, str]]]) -> list[Reply]:
        torch, tok = self.torch, self.tok
        texts = [tok.apply_chat_template(c, add_generation_prompt=True, tokenize=False) for c in conversations]
        enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        t0 = time.perf_counter()
        with torch.no_grad():
            out = self.model.generate(
                **enc,
                max_new_tokens=self.max_tokens,
                do_sample=self.temperature > 0,
                temperature=self.temperature if self.temperature > 0 else None,
                top_p=None,
                top_k=None,
                pad_token_id=tok.pad_token_id,
            )
        latency = (time.perf_counter() - t0) * 1000 / len(conversations)
        eos = set(
            self.model.generation_config.eos_token_id
            if isinstance(self.model.generation_config.eos_token_id, list)
            else [self.model.generation_config.eos_token_id or tok.eos_token_id]
        )
        replies = []
        prompt_len = enc["input_ids"].shape[1]
        for i, seq in enumerate(out):
            new = seq[prompt_len:].tolist()
            ended = next((j for j, t in enumerate(new) if t in eos or t == tok.pad_token_id), None)
            body = new[:ended] if ended is not None else new
            replies.append(
                Reply(
                    text=tok.decode(body, skip_special_tokens=True).strip(),
                    reasoning_field=None,
                    finish_reason="stop" if ended is not None else "length",
                    prompt_tokens=int(enc["attention_mask"][i].sum()),
                    completion_tokens=len(body),
                    latency_ms=latency,
                )
            )
        return replies

    def choose(self, conversations: list[list[dict[str, str]]], labels: list[str]) -> list[Reply]:
        """A labelled task: each answer is the label the model finds most likely after the request (every label's
        tokens scored), so it is always one of the labels."""
        from ..teaching import choose_labels, prompt_ids

        tok = self.tok
        prompts = [prompt_ids(tok, c) for c in conversations]
        t0 = time.perf_counter()
        picks = choose_labels(self.model, tok, prompts, labels)
        latency = (time.perf_counter() - t0) * 1000 / len(conversations)
        return [
            Reply(
                text=labels[i],
                reasoning_field=None,
                finish_reason="stop",
                prompt_tokens=len(p),
                completion_tokens=len(tok(labels[i], add_special_tokens=False)["input_ids"]),
                latency_ms=latency,
            )
            for p, (i, _) in zip(prompts, picks, strict=True)
        ]
