"""Check a Hugging Face model folder on this machine before anything loads it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .errors import ModelLoadError

WEIGHT_PATTERNS = ("*.safetensors", "pytorch_model*.bin")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json")


@dataclass
class ModelFolderInfo:
    path: Path
    model_type: str
    n_params: int
    n_layers: int
    hidden_size: int
    vocab_size: int
    context_length: int
    size_bytes: int
    has_chat_template: bool
    tokenizer_vocab_size: int | None = None


def _weights_size(path: Path) -> int:
    return sum(f.stat().st_size for pat in WEIGHT_PATTERNS for f in path.glob(pat))


def _count_params(path: Path, fallback_bytes: int) -> int:
    n = 0
    try:
        from safetensors import safe_open

        for f in path.glob("*.safetensors"):
            with safe_open(str(f), framework="np") as st:
                for k in st.keys():  # noqa: SIM118 - safe_open has keys(), not iteration
                    shape = st.get_slice(k).get_shape()
                    size = 1
                    for d in shape:
                        size *= d
                    n += size
    except Exception:  # noqa: BLE001 - fall back to a size-based guess
        n = 0
    return n or fallback_bytes // 2


def inspect_model_folder(path: str | Path) -> ModelFolderInfo:
    """Validate config, weights and tokenizer; raise ModelLoadError with what is missing and what to do."""
    p = Path(path).expanduser()
    if not p.is_dir():
        raise ModelLoadError(f"No folder at {p}", "Give the path of a folder that holds config.json and the weights.")
    cfg_file = p / "config.json"
    if not cfg_file.exists():
        raise ModelLoadError(f"{p} has no config.json", "This does not look like a Hugging Face model folder.")
    try:
        cfg = json.loads(cfg_file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{cfg_file} is not valid JSON ({exc})", "Re-download or re-save the model.") from exc
    size = _weights_size(p)
    if size == 0:
        raise ModelLoadError(f"{p} has no weights (*.safetensors or pytorch_model.bin)", "Copy the weight files too.")
    if not any((p / t).exists() for t in TOKENIZER_FILES):
        raise ModelLoadError(
            f"{p} has no tokenizer files", "Copy tokenizer.json and tokenizer_config.json next to the weights."
        )
    tok_cfg = {}
    if (p / "tokenizer_config.json").exists():
        tok_cfg = json.loads((p / "tokenizer_config.json").read_text(encoding="utf-8"))
    has_template = bool(tok_cfg.get("chat_template")) or (p / "chat_template.jinja").exists()
    text_cfg = cfg.get("text_config", cfg)
    tok_vocab = None
    if (p / "tokenizer.json").exists():
        try:
            tj = json.loads((p / "tokenizer.json").read_text(encoding="utf-8"))
            # Special tokens usually sit in both lists: count ids, not entries.
            ids = set(tj.get("model", {}).get("vocab", {}).values()) | {t["id"] for t in tj.get("added_tokens", [])}
            tok_vocab = max(ids) + 1 if ids else 0
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError, KeyError, TypeError):
            tok_vocab = None
    return ModelFolderInfo(
        path=p.resolve(),
        model_type=cfg.get("model_type", "unknown"),
        n_params=_count_params(p, size),
        n_layers=int(text_cfg.get("num_hidden_layers", 0)),
        hidden_size=int(text_cfg.get("hidden_size", 0)),
        vocab_size=int(text_cfg.get("vocab_size", 0)),
        context_length=int(text_cfg.get("max_position_embeddings", 0)),
        size_bytes=size,
        has_chat_template=has_template,
        tokenizer_vocab_size=tok_vocab,
    )
