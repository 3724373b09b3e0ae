"""Run onnxruntime-genai's model builder (local folders only, offline) and check what it made."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ..errors import ModelLoadError
from ..genai_session import apply_session_options
from .config import ConvertConfig

EXPECTED = ("genai_config.json", "model.onnx", "tokenizer.json")


def builder_command(cfg: ConvertConfig, src: Path, out: Path, cache: Path, extra: dict | None = None) -> list[str]:
    cmd = [
        sys.executable,
        "-m",
        "onnxruntime_genai.models.builder",
        "-i",
        str(src),
        "-o",
        str(out),
        "-p",
        cfg.precision,
        "-e",
        cfg.execution_provider,
        "-c",
        str(cache),
    ]
    options = dict(extra or {})
    if cfg.precision == "int4":
        # onnxruntime-genai 0.18 reads these names; its help still lists `int4_block_size` etc., which it ignores.
        options |= {
            "block_size": cfg.int4_block_size,
            "accuracy_level": cfg.int4_accuracy_level,
            "is_symmetric": str(cfg.int4_symmetric).lower(),
        }
        if not cfg.int4_symmetric:  # zero points break the embedding shared with the output layer: keep them apart
            options["shared_embeddings"] = "false"
        mixed = [
            f"{group}:int8"
            for group, kind in (("last_matmul", cfg.int4_output_layer), ("mixed_layers", cfg.int4_sensitive_layers))
            if kind == "int8"
        ]
        if mixed:
            options["matmul_mixed_precision"] = ",".join(mixed)
        if cfg.int4_method == "k_quant" or mixed:
            # The builder's own default is RTN too, but its int8 output layer is only wired to the embedding it
            # shares when the method is named.
            options["algo_config"] = "k_quant" if cfg.int4_method == "k_quant" else "rtn"
    if "adapter_path" not in options and not _prequantized(src):
        # one fused gate/up MatMul: same outputs, a few % faster (not with LoRA; the builder cannot fuse the
        # quantized gate/up of a GPTQ / AWQ / Olive model)
        options["fuse_mlp_gate_up"] = "true"
    if options:
        cmd += ["--extra_options", *(f"{k}={v}" for k, v in options.items())]
    return cmd


def _prequantized(src: Path) -> bool:
    try:
        return "quantization_config" in json.loads((Path(src) / "config.json").read_text())
    except (OSError, ValueError):
        return False


def run_builder(
    cfg: ConvertConfig, src: Path, out: Path, cache: Path, log_path: Path, extra: dict | None = None
) -> None:
    """The builder in a child process (its own memory, its log kept); a non-zero exit becomes a clear error."""
    with open(log_path, "ab") as log:
        rc = subprocess.run(
            builder_command(cfg, src, out, cache, extra),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            check=False,
        ).returncode
    if rc != 0:
        tail = log_path.read_text(errors="replace")[-600:]
        raise ModelLoadError(
            f"The ONNX model builder failed (exit {rc})",
            f"Its last words: {tail.strip().splitlines()[-1] if tail.strip() else 'none'}. "
            "The model's architecture may not be supported by onnxruntime-genai.",
        )


def tune_for_this_machine(out: Path) -> dict:
    """Give the CPU session this machine's settings (the model runs where it was converted; a deployment sets
    them again for the machine that serves it)."""
    path = out / "genai_config.json"
    genai = json.loads(path.read_text())
    options = apply_session_options(genai)
    if path.is_symlink() or path.stat().st_nlink > 1:
        path.unlink()  # never write through a hard link into another model's file
    path.write_text(json.dumps(genai, indent=4))
    return options


def verify_outputs(out: Path, src: Path) -> dict:
    """The builder can 'succeed' without a usable model (e.g. a 1-token tokenizer): check files and vocabulary."""
    missing = [f for f in EXPECTED if not (out / f).exists()]
    if missing:
        raise ModelLoadError(f"The conversion left out {', '.join(missing)}", "Check the builder log in the job.")
    genai = json.loads((out / "genai_config.json").read_text())
    vocab = int(genai["model"]["vocab_size"])
    tj = json.loads((out / "tokenizer.json").read_text())
    ids = set(tj.get("model", {}).get("vocab", {}).values()) | {t["id"] for t in tj.get("added_tokens", [])}
    tok_vocab = max(ids) + 1 if ids else 0
    # A real tokenizer covers (nearly) the whole embedding; models pad the embedding, never the other way round.
    if tok_vocab < 0.5 * vocab or tok_vocab > vocab:
        raise ModelLoadError(
            f"The converted tokenizer has {tok_vocab} tokens for a model of {vocab}",
            f"The source folder {src} needs its tokenizer files (tokenizer.json, "
            "tokenizer_config.json) next to the weights.",
        )
    return {"vocab_size": vocab, "tokenizer_vocab": tok_vocab}


def generate(
    path: Path, prompt: str, max_new_tokens: int = 16, chat: bool = True, adapter: Path | None = None
) -> tuple[list[int], str]:
    """Greedy generation with onnxruntime-genai: (new token ids, text); `adapter` switches an .onnx_adapter on."""
    import onnxruntime_genai as og

    try:
        model = og.Model(str(path))
    except RuntimeError as exc:
        raise ModelLoadError(
            f"The converted model does not load: {str(exc)[:300]}",
            "This combination of options is not supported for this model: keep the recommended int4 options, "
            "or choose int8 / fp32.",
        ) from exc
    tok = og.Tokenizer(model)
    adapters = None
    if adapter is not None:
        adapters = og.Adapters(model)
        adapters.load(str(adapter), adapter.stem)
    text = prompt
    if chat:
        try:
            text = tok.apply_chat_template(
                json.dumps([{"role": "user", "content": prompt}]), add_generation_prompt=True
            )
        except Exception:  # noqa: BLE001 - no template: use the raw prompt
            text = prompt
    ids = tok.encode(text)
    params = og.GeneratorParams(model)
    params.set_search_options(max_length=len(ids) + max_new_tokens, do_sample=False)
    gen = og.Generator(model, params)
    if adapters is not None:
        gen.set_active_adapter(adapters, adapter.stem)
    gen.append_tokens(ids)
    out: list[int] = []
    while not gen.is_done():
        gen.generate_next_token()
        out.append(int(gen.get_next_tokens()[0]))
    return out, tok.decode(out)
