"""Multi-adapter ONNX: one ONNX base plus one `.onnx_adapter` file per LoRA adapter, switched at generation time.

How it is made, with the two tools built for it:
1. onnxruntime-genai's model builder converts the base with one adapter (`adapter_path=`): the LoRA layers become
   their own small MatMuls next to each base MatMul. For int4/int8 those LoRA MatMuls are kept in float
   (`nodes_to_exclude`): an adapter quantized to 4 bits loses most of what it learned, and a quantized graph
   cannot run without an adapter.
2. Olive's `generate-adapter` (its ExtractAdapters pass) turns those LoRA weights into optional graph inputs and
   writes them to an `.onnx_adapter` file. Each further adapter goes through the same two steps and only its
   file is kept; every file is checked against the base's inputs.
No compatibility shim is needed on this path: the builder is called directly, and Olive only rewrites the ONNX
graph. Olive can exit 0 without writing anything (no LoRA found), so every output is checked.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from ..errors import ConfigError, ModelLoadError
from ..models import ModelVariant

# Where the builder puts each projection a LoRA adapter can target (Llama, Qwen2, Mistral, SmolLM2 layout).
BUILDER_SCOPE = {
    "q_proj": "attn",
    "k_proj": "attn",
    "v_proj": "attn",
    "o_proj": "attn",
    "gate_proj": "mlp",
    "up_proj": "mlp",
    "down_proj": "mlp",
}
ADAPTER_DIR = "adapters"


def adapter_key(v: ModelVariant) -> str:
    """The name an adapter is switched by: short, stable and readable (`a12-support`)."""
    slug = re.sub(r"[^a-z0-9]+", "-", (v.config.get("adapter_name") or v.name).lower()).strip("-")[:40]
    return f"a{v.id}-{slug or 'adapter'}"


def adapter_config(v: ModelVariant) -> dict:
    path = v.config.get("adapter_path")
    if not path or not (Path(path) / "adapter_config.json").exists():
        raise ConfigError(
            f"{v.name} has no LoRA adapter on disk",
            "Only LoRA fine-tunes keep an adapter; a full fine-tune is converted on its own.",
        )
    return json.loads((Path(path) / "adapter_config.json").read_text())


def check_adapters(base: ModelVariant, adapters: list[ModelVariant]) -> list[str]:
    """The problems that stop these adapters from sharing one ONNX base ([] when they can)."""
    problems: list[str] = []
    targets: set[str] | None = None
    for v in adapters:
        if v.parent_id != base.id:
            problems.append(f"{v.name} was trained on another base model, not on {base.name}.")
            continue
        try:
            cfg = adapter_config(v)
        except ConfigError as exc:
            problems.append(f"{exc.message}. {exc.hint}")
            continue
        if cfg.get("peft_type") != "LORA" or cfg.get("use_dora"):
            problems.append(f"{v.name} is not a plain LoRA adapter (DoRA and others are served merged).")
            continue
        mods = set(cfg.get("target_modules") or [])
        unknown = sorted(mods - set(BUILDER_SCOPE))
        if unknown:
            problems.append(f"{v.name} adapts layers the ONNX builder cannot keep apart: {', '.join(unknown)}.")
        if targets is not None and mods != targets:
            problems.append(f"{v.name} adapts other layers than the first adapter: all must adapt the same ones.")
        targets = mods if targets is None else targets
    return problems


def lora_nodes(src: Path, adapter_path: Path) -> list[str]:
    """The builder's names of the LoRA MatMuls, kept out of weight quantization."""
    layers = int(json.loads((src / "config.json").read_text())["num_hidden_layers"])
    mods = json.loads((adapter_path / "adapter_config.json").read_text()).get("target_modules") or []
    return [
        f"/model/layers.{i}/{BUILDER_SCOPE[m]}/{m}/lora_{ab}/MatMul"
        for i in range(layers)
        for m in sorted(mods)
        if m in BUILDER_SCOPE
        for ab in ("A", "B")
    ]


def _run(cmd: list[str], log_path: Path, what: str, cwd: Path) -> None:
    with open(log_path, "ab") as log:
        rc = subprocess.run(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd, check=False
        ).returncode
    if rc != 0:
        tail = log_path.read_text(errors="replace").strip().splitlines()
        raise ModelLoadError(f"{what} failed (exit {rc})", f"Its last words: {tail[-1] if tail else 'none'}.")


def extract_adapter(onnx_dir: Path, out: Path, log_path: Path) -> Path:
    """Olive's generate-adapter: LoRA weights become graph inputs + an .onnx_adapter file. Checked, as Olive exits
    0 when it found no LoRA layers. It runs next to `onnx_dir`: Olive keeps its cache in its working folder."""
    cmd = [sys.executable, "-m", "olive", "generate-adapter", "-m", str(onnx_dir.resolve()), "-o", str(out.resolve())]
    cmd += ["--adapter_format", "onnx_adapter", "--log_level", "3"]
    _run(cmd, log_path, "Olive generate-adapter", cwd=onnx_dir.resolve().parent)
    weights = out / "adapter_weights.onnx_adapter"
    if not weights.exists() or not (out / "model.onnx").exists():
        raise ModelLoadError(
            "Olive found no LoRA layers to turn into an adapter",
            "The adapter may not target any layer the builder converted; see the job log.",
        )
    return weights


def adapter_parameters(path: Path) -> dict[str, tuple[int, ...]]:
    import onnxruntime as ort

    return {k: tuple(v.shape()) for k, v in ort.AdapterFormat.read_adapter(str(path)).get_parameters().items()}


def graph_adapter_inputs(model_path: Path) -> set[str]:
    import onnx

    m = onnx.load(str(model_path), load_external_data=False)
    return {i.name for i in m.graph.input if ".lora_" in i.name}


def quantized_lora(model_path: Path) -> list[str]:
    import onnx

    m = onnx.load(str(model_path), load_external_data=False)
    return [n.name for n in m.graph.node if "/lora_" in n.name and n.op_type != "MatMul"]


def place_adapter(weights: Path, out: Path, key: str, expected: set[str]) -> Path:
    """Move one adapter file into the model folder after checking it feeds exactly the base's adapter inputs."""
    params = set(adapter_parameters(weights))
    if params != expected:
        raise ModelLoadError(
            f"Adapter {key} does not fit the ONNX base ({len(params)} weights for {len(expected)} inputs)",
            "All adapters must adapt the same layers of the same base model.",
        )
    dest = out / ADAPTER_DIR / f"{key}.onnx_adapter"
    dest.parent.mkdir(exist_ok=True)
    shutil.move(str(weights), dest)
    return dest


def build_multi_adapter(cfg, src: Path, out: Path, work: Path, log: Path, adapters: list[ModelVariant], progress):
    """Build `out` as one ONNX base with every adapter as a file under `out/adapters/`; returns their records."""
    from .builder import run_builder

    exclude = lora_nodes(src, Path(adapters[0].config["adapter_path"])) if cfg.precision in ("int4", "int8") else []
    entries: list[dict] = []
    expected: set[str] = set()
    for i, v in enumerate(adapters):
        progress(0.05 + 0.6 * i / len(adapters), f"Adapter {i + 1} of {len(adapters)}: {v.name}")
        built, extracted = work / f"built-{i}", (out if i == 0 else work / f"extracted-{i}")
        extra = {"adapter_path": v.config["adapter_path"]}
        if exclude:
            extra["nodes_to_exclude"] = ",".join(exclude)
        run_builder(cfg, src, built, work / "cache", log, extra=extra)
        if i == 0 and (bad := quantized_lora(built / "model.onnx")):
            raise ModelLoadError(
                f"The builder quantized {len(bad)} adapter layers (e.g. {bad[0]})",
                "This architecture's layer names differ from the supported layout: convert the merged models instead.",
            )
        weights = extract_adapter(built, extracted, log)
        if i == 0:
            expected = graph_adapter_inputs(out / "model.onnx")
        dest = place_adapter(weights, out, adapter_key(v), expected)
        rel, size = str(dest.relative_to(out)), dest.stat().st_size
        entries.append({"variant_id": v.id, "name": adapter_key(v), "file": rel, "size_bytes": size})
        shutil.rmtree(built, ignore_errors=True)
        if i:
            shutil.rmtree(extracted, ignore_errors=True)
    return entries
