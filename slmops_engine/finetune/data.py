"""Examples as the student sees them: the chat template applied, loss on the response tokens only."""

from __future__ import annotations

from ..errors import DataError

IGNORE = -100


def messages_of(row: dict) -> list[dict[str, str]]:
    msgs = [{"role": "system", "content": row["system"]}] if row.get("system") else []
    return msgs + [{"role": "user", "content": row["prompt"]}, {"role": "assistant", "content": row["response"]}]


def encode(row: dict, tok, max_length: int) -> dict:
    """input_ids and labels where every prompt token is IGNORE; the response keeps its end-of-turn token."""
    msgs = messages_of(row)
    prompt_ids = tok.apply_chat_template(msgs[:-1], add_generation_prompt=True, tokenize=True, return_dict=False)
    full_ids = tok.apply_chat_template(msgs, tokenize=True, return_dict=False)
    if full_ids[: len(prompt_ids)] != prompt_ids:
        # A template that renders the prompt differently once the answer follows: fall back to concatenation.
        answer_ids = tok(row["response"] + (tok.eos_token or ""), add_special_tokens=False)["input_ids"]
        full_ids = prompt_ids + answer_ids
    full_ids = full_ids[:max_length]
    labels = [IGNORE] * min(len(prompt_ids), len(full_ids)) + full_ids[len(prompt_ids) :]
    return {"input_ids": full_ids, "attention_mask": [1] * len(full_ids), "labels": labels}


def tokenize_split(part, tok, max_length: int):
    """Tokenize a datasets split; rows whose response was cut away entirely are dropped."""
    if "response" not in part.column_names or any(r is None or not str(r).strip() for r in part["response"]):
        raise DataError(
            "Some rows have no response to learn from",
            "Use a dataset with answers: let the teacher answer it on the Distill page first.",
        )
    enc = part.map(lambda r: encode(r, tok, max_length), remove_columns=part.column_names, desc=None)
    enc = enc.filter(lambda r: any(label != IGNORE for label in r["labels"]))
    if len(enc) == 0:
        raise DataError(
            "Every example is longer than the maximum length before its answer starts",
            "Raise the maximum sequence length.",
        )
    return enc


def real_tokens(enc) -> int:
    return sum(len(x) for x in enc["input_ids"])
