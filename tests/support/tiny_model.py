"""Build tiny, real causal LMs (Llama- or Qwen2-shaped) with a locally trained tokenizer and a chat template.

Seconds to build, no download: every stage's tests train, convert and serve these."""

from __future__ import annotations

import random
from pathlib import Path

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<pad>"]

WORDS = [
    "the",
    "a",
    "an",
    "my",
    "your",
    "our",
    "order",
    "refund",
    "invoice",
    "account",
    "password",
    "login",
    "shipping",
    "delivery",
    "package",
    "late",
    "broken",
    "billing",
    "charge",
    "card",
    "payment",
    "cancel",
    "subscription",
    "upgrade",
    "plan",
    "support",
    "help",
    "thanks",
    "please",
    "when",
    "where",
    "why",
    "how",
    "what",
    "can",
    "I",
    "you",
    "we",
    "it",
    "is",
    "are",
    "was",
    "will",
    "not",
    "do",
    "does",
    "reset",
    "change",
    "update",
    "email",
    "address",
    "phone",
    "number",
    "product",
    "item",
    "return",
    "exchange",
    "damaged",
    "missing",
    "question",
    "answer",
    "category",
    "technical",
    "sales",
    "general",
    "urgent",
    "today",
    "tomorrow",
    "week",
    "day",
    "hello",
    "hi",
    "yes",
    "no",
    "ok",
    "error",
    "app",
    "crash",
    "slow",
    "screen",
    "button",
    "page",
    "settings",
]


def _corpus(n: int = 3000, seed: int = 0) -> list[str]:
    rnd = random.Random(seed)
    return [
        " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(4, 14))) + rnd.choice([".", "?", "!"]) for _ in range(n)
    ]


def build_tokenizer(out: Path, vocab_size: int = 384):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<pad>",
        unk_token="<|endoftext|>",
    )
    fast.chat_template = CHATML_TEMPLATE
    fast.save_pretrained(out)
    return fast


def build_tiny_model(out: Path, arch: str = "llama", *, hidden: int = 64, layers: int = 2, seed: int = 0) -> Path:
    """A random tiny model + tokenizer saved as a Hugging Face folder (safetensors). ``arch``: llama or qwen2."""
    import torch
    from transformers import AutoModelForCausalLM, GenerationConfig, LlamaConfig, Qwen2Config

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tok = build_tokenizer(out)
    common = dict(
        vocab_size=len(tok),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    cfg = LlamaConfig(**common) if arch == "llama" else Qwen2Config(**common)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(cfg)
    model.generation_config = GenerationConfig(
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id
    )
    model.save_pretrained(out)
    return out
