"""What the benchmarks share: the model they run on and where their results go."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The chat prompts every decoding benchmark answers (short support messages, as the sample project has).
PROMPTS = [
    "My card was charged twice for Plus this month.",
    "The thermostat will not connect to Wi-Fi.",
    "Where is my parcel? It was due on Monday.",
    "How do I reset my password?",
]


def bench_model(choice: str, **prepare) -> Path:
    """The bundled SmolLM2 (`bundled`, prepared first when it is not; `auto` when it is prepared) or a small random
    model built in seconds (`tiny`, or `auto` without the bundled one)."""
    from slmops_engine.bundled import bundled_model_path

    src = None if choice == "tiny" else bundled_model_path()
    if src is None and choice == "bundled":
        from slmops_engine.jobs import submit_job
        from slmops_engine.jobs.worker import run_job

        run_job(submit_job("prepare_model", prepare).id)
        src = bundled_model_path()
    if src is None:
        from tests.support.tiny_model import build_tiny_model

        src = build_tiny_model(Path(tempfile.mkdtemp()) / "tiny", hidden=256, layers=4)
    return src


def import_variant(src: Path):
    """Record a model folder as a base variant, as the app does for a student it starts from."""
    from slmops_engine.db import session_scope
    from slmops_engine.models import ModelVariant

    with session_scope() as s:
        v = ModelVariant(name=src.name, stage="import", format="hf", artifact_path=str(src))
        s.add(v)
    return v


def write_results(name: str, out: dict) -> None:
    dest = ROOT / "bench" / "results" / f"{name}.json"
    dest.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {dest.relative_to(ROOT)}")


def decode_args(description: str):
    """The options of the decoding benchmarks (--model, --new-tokens); each run gets its own home."""
    import argparse
    import logging
    import os

    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--model", choices=["auto", "tiny", "bundled"], default="auto")
    ap.add_argument("--new-tokens", type=int, default=32)
    args = ap.parse_args()
    os.environ.setdefault("SLMOPS_HOME", tempfile.mkdtemp(prefix="slmops-bench-"))
    logging.disable(logging.WARNING)
    return args


def interleaved_tokens_per_s(paths: dict[str, Path], prompts: list[list[int]], new_tokens: int, rounds: int = 5):
    """Greedy decoding speed of several ONNX models, fairly: every prompt runs on each model in turn, ``rounds``
    times, a fixed number of new tokens each (end of text ignored), so that a slower or busier stretch of the machine
    falls on all of them alike. Returns {name: tokens/s}."""
    import time

    import onnxruntime_genai as og

    models = {name: og.Model(str(p)) for name, p in paths.items()}

    def once(model, prompt) -> float:
        params = og.GeneratorParams(model)
        length = len(prompt) + new_tokens
        params.set_search_options(max_length=length, min_length=length, do_sample=False)
        t0 = time.perf_counter()
        gen = og.Generator(model, params)
        gen.append_tokens(prompt)
        while not gen.is_done():
            gen.generate_next_token()
        return time.perf_counter() - t0

    for model in models.values():  # warm up
        once(model, prompts[0])
    secs = dict.fromkeys(models, 0.0)
    for _ in range(rounds):
        for prompt in prompts:
            for name, model in models.items():
                secs[name] += once(model, prompt)
    return {name: round(rounds * len(prompts) * new_tokens / s, 1) for name, s in secs.items()}
