"""Put an ONNX model where Foundry Local looks for it: `<cache>/<publisher>/<name>-<version>/` with the files
onnxruntime-genai needs, an `inference_model.json` (id + prompt template) and the deployment's generation
defaults in its `genai_config.json`. Weights are hard-linked when the cache is on the same disk (no copy)."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from ..errors import ConfigError
from ..genai_session import apply_session_options
from ..settings import get_settings
from .templates import to_chat_template

PUBLISHER = "slmops"
VERSION = 1
# Answer defaults of a deployment; max_length None keeps the model's own context length.
GENERATION_DEFAULTS = {"max_length": None, "temperature": 0.2, "top_p": 0.9, "repetition_penalty": 1.05}


def cache_dir() -> Path:
    return get_settings().serving_dir / "cache"


def model_name(variant_id: int, variant_name: str) -> str:
    """A short, readable, unique model name that fits where clients and lists show it: the variant's id, the first
    words of its name (whole words, up to 20 letters) and its precision — `v12-brightwave-support-int4`."""
    words = [w for w in re.split(r"[^a-z0-9]+", variant_name.lower()) if w]
    precision = next((w for w in words if w in ("int4", "int8", "fp32", "fp16", "bf16")), None)
    head: list[str] = []
    for w in (w for w in words if w not in (precision, "onnx")):
        if head and len("-".join([*head, w])) > 20:
            break
        head.append(w[:20])
    return "-".join([f"v{variant_id}", *head, *([precision] if precision else [])]) if head else f"v{variant_id}-model"


def model_id(name: str) -> str:
    return f"{name}:{VERSION}"


def model_folder(name: str) -> Path:
    return cache_dir() / PUBLISHER / f"{name}-{VERSION}"


def check_servable(src: Path) -> None:
    """Foundry Local loads a plain onnxruntime-genai model; adapters as graph inputs do not load there."""
    if not (src / "genai_config.json").exists():
        raise ConfigError(f"{src} is not an ONNX model for onnxruntime-genai", "Convert the model on Optimize first.")
    if (src / "adapters").is_dir():
        raise ConfigError(
            "Foundry Local cannot load a model whose LoRA adapters are switchable inputs",
            "Deploy the int4 conversion of each fine-tuned (merged) model instead: one deployment per adapter. "
            "The Chat page can still switch this model's adapters in the app.",
        )


def _link_tree(src: Path, dst: Path) -> None:
    def link(s: str, d: str) -> None:
        try:
            os.link(s, d)
        except OSError:  # another disk or a file system without hard links
            shutil.copy2(s, d)

    shutil.copytree(src, dst, copy_function=link)


def place(name: str, src: Path, template: dict[str, str], generation: dict, custom_template: bool) -> Path:
    """(Re)write the model's folder in the cache. Metadata files are written fresh (never through a hard link)."""
    check_servable(src)
    dst = model_folder(name)
    tmp = dst.with_name(dst.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    _link_tree(src, tmp)
    genai_path = tmp / "genai_config.json"
    genai = json.loads(genai_path.read_text())
    search = genai.setdefault("search", {})
    gen = GENERATION_DEFAULTS | (generation or {})
    search.update({k: v for k, v in gen.items() if k in GENERATION_DEFAULTS and v is not None})
    search["do_sample"] = float(gen["temperature"]) > 0
    apply_session_options(genai)
    genai_path.unlink()  # a hard link: replace the file, never write through into the source model
    genai_path.write_text(json.dumps(genai, indent=2))
    if custom_template:  # Foundry Local 2.x prompts with the chat template: make the edited template the one used
        jinja = tmp / "chat_template.jinja"
        jinja.unlink(missing_ok=True)
        jinja.write_text(to_chat_template(template))
    meta = {"Name": model_id(name), "PromptTemplate": template}
    (tmp / "inference_model.json").write_text(json.dumps(meta, indent=2))
    shutil.rmtree(dst, ignore_errors=True)
    tmp.rename(dst)
    return dst


def unplace(name: str) -> None:
    shutil.rmtree(model_folder(name), ignore_errors=True)
