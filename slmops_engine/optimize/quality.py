"""The quick check after a conversion: the ONNX model against its PyTorch source on the same rows —
perplexity of the reference answers, ROUGE-L of greedy answers against them, decode speed, time to first token,
memory — and a plain-language recommendation across a source's conversions."""

from __future__ import annotations

import math
import time
from pathlib import Path

import psutil

from ..errors import DataError
from ..evaluate.metrics import rouge_l


def _rows(dataset_id: int, split: str, n: int) -> list[dict]:
    from ..data.store import load_dataset_dict

    dd = load_dataset_dict(dataset_id)
    part = dd[split] if split in dd else dd.get("validation") or dd.get("test") or dd["train"]
    rows = [r for r in part.select(range(min(n, len(part)))) if r.get("response")]
    if not rows:
        raise DataError("No rows with answers to check against", "Use a dataset with responses.")
    return rows


def _messages(row: dict) -> list[dict[str, str]]:
    msgs = [{"role": "system", "content": row["system"]}] if row.get("system") else []
    return msgs + [{"role": "user", "content": row["prompt"]}]


class TorchSide:
    def __init__(self, path: Path) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.torch = torch
        self.tok = AutoTokenizer.from_pretrained(str(path))
        self.model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32).eval()

    def prompt_ids(self, row: dict) -> list[int]:
        return self.tok.apply_chat_template(
            _messages(row), add_generation_prompt=True, tokenize=True, return_dict=False
        )

    def nll(self, prompt: list[int], answer: list[int]) -> float:
        torch = self.torch
        ids = torch.tensor([prompt + answer])
        with torch.no_grad():
            logits = self.model(ids).logits[0, len(prompt) - 1 : -1]
        return float(torch.nn.functional.cross_entropy(logits.float(), torch.tensor(answer), reduction="sum"))

    def generate(self, prompt: list[int], max_new: int) -> tuple[list[int], float, float]:
        torch = self.torch
        ids = torch.tensor([prompt])
        t0 = time.perf_counter()
        with torch.no_grad():
            first = self.model.generate(ids, max_new_tokens=1, do_sample=False)
        ttft = time.perf_counter() - t0
        t0 = time.perf_counter()
        with torch.no_grad():
            out = self.model.generate(ids, max_new_tokens=max_new, do_sample=False)
        secs = time.perf_counter() - t0
        del first
        return out[0][len(prompt) :].tolist(), ttft, secs


class OnnxSide:
    def __init__(self, path: Path) -> None:
        import onnxruntime_genai as og

        self.og = og
        self.model = og.Model(str(path))
        self.tok = og.Tokenizer(self.model)

    def nll(self, prompt: list[int], answer: list[int]) -> float:
        from ..evaluate.runtimes import answer_nll

        params = self.og.GeneratorParams(self.model)
        params.set_search_options(max_length=len(prompt) + len(answer) + 1, do_sample=False)
        return answer_nll(self.og.Generator(self.model, params), prompt, answer)

    def generate(self, prompt: list[int], max_new: int) -> tuple[list[int], float, float]:
        params = self.og.GeneratorParams(self.model)
        params.set_search_options(max_length=len(prompt) + max_new, do_sample=False)
        t0 = time.perf_counter()
        gen = self.og.Generator(self.model, params)
        gen.append_tokens(prompt)
        out: list[int] = []
        ttft = None
        while not gen.is_done():
            gen.generate_next_token()
            out.append(int(gen.get_next_tokens()[0]))
            if ttft is None:
                ttft = time.perf_counter() - t0
        return out, ttft or 0.0, time.perf_counter() - t0


def _measure(side, torch_side: TorchSide, rows: list[dict], max_new: int) -> dict:
    nll = n_tok = 0.0
    rouge, gen_tokens, gen_secs, ttfts = [], 0, 0.0, []
    for row in rows:
        prompt = torch_side.prompt_ids(row)  # the same token ids for both sides
        answer = torch_side.tok(row["response"], add_special_tokens=False)["input_ids"]
        nll += side.nll(prompt, answer)
        n_tok += len(answer)
        out, ttft, secs = side.generate(prompt, max_new)
        eos = {torch_side.tok.eos_token_id}
        text_ids = [t for t in out if t not in eos]
        rouge.append(rouge_l(torch_side.tok.decode(text_ids, skip_special_tokens=True), row["response"]))
        gen_tokens += len(out)
        gen_secs += secs
        ttfts.append(ttft)
    return {
        "perplexity": round(math.exp(nll / max(n_tok, 1)), 4),
        "rouge_l": round(sum(rouge) / len(rouge), 4),
        "tokens_per_s": round(gen_tokens / gen_secs, 1) if gen_secs else None,
        "ttft_ms": round(1000 * sum(ttfts) / len(ttfts), 1),
    }


def quick_check(
    onnx_path: Path,
    source_path: Path,
    dataset_id: int,
    *,
    split: str = "validation",
    rows: int = 16,
    max_new_tokens: int = 32,
) -> dict:
    """ONNX vs its PyTorch source on the same rows; 'kept' ratios are ONNX / source (1.0 = no loss)."""
    data = _rows(dataset_id, split, rows)
    proc = psutil.Process()
    torch_side = TorchSide(source_path)
    torch_m = _measure(torch_side, torch_side, data, max_new_tokens)
    before = proc.memory_info().rss
    onnx_side = OnnxSide(onnx_path)
    onnx_m = _measure(onnx_side, torch_side, data, max_new_tokens)
    onnx_m["memory_mb"] = round(max(proc.memory_info().rss - before, 0) / 1e6, 1)
    kept_rouge = onnx_m["rouge_l"] / torch_m["rouge_l"] if torch_m["rouge_l"] else None
    return {
        "rows": len(data),
        "source": torch_m,
        "onnx": onnx_m,
        "rouge_kept": round(kept_rouge, 4) if kept_rouge is not None else None,
        "perplexity_ratio": round(onnx_m["perplexity"] / torch_m["perplexity"], 4),
        "speedup": round(onnx_m["tokens_per_s"] / torch_m["tokens_per_s"], 2)
        if onnx_m["tokens_per_s"] and torch_m["tokens_per_s"]
        else None,
    }


def quality_kept(check: dict) -> float:
    """One number for 'how much quality is left': ROUGE-L kept, else the inverse perplexity ratio."""
    if check.get("rouge_kept") is not None:
        return (
            min(check["rouge_kept"], 1.0 / check["perplexity_ratio"])
            if check.get("perplexity_ratio")
            else check["rouge_kept"]
        )
    return 1.0 / check["perplexity_ratio"]


def pick(variants: list[dict], threshold: float = 0.97) -> dict | None:
    """The smallest of [{precision, label, size_ratio, kept}] that keeps the threshold; None when none does."""
    good = [v for v in variants if v.get("kept") is not None and v["kept"] >= threshold]
    return min(good, key=lambda v: v["size_ratio"]) if good else None


def recommend(variants: list[dict], threshold: float = 0.97) -> str:
    """variants: [{precision, label, size_ratio, kept}] of one source; the smallest that keeps the threshold wins,
    named by its label (which names an int4 route)."""
    chosen = pick(variants, threshold)
    if chosen is None:
        if not variants:
            return "Convert the model to see a recommendation."
        best = max(variants, key=lambda v: v.get("kept") or 0)
        return (
            f"No conversion keeps {threshold:.0%} of the quality; {best.get('label') or best['precision']} keeps "
            "the most "
            f"({(best.get('kept') or 0):.0%}). Consider fp32, or fine-tune longer before quantizing."
        )
    return (
        f"{chosen.get('label') or chosen['precision']} keeps {min(chosen['kept'], 1):.0%} of quality at "
        f"{chosen['size_ratio']:.0%} of the "
        "size — recommended for this machine."
    )
