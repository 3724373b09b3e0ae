"""Decoding speed of the int4 model under load: the thread settings a converted model can carry, each measured on an
idle machine and beside a busy process this benchmark starts itself (a PyTorch loop on every core, as a fine-tune
is), on the same model and prompts, greedy, a fixed number of new tokens.

An operator chatting with a deployment while a fine-tune runs is the normal case, so the setting shipped in
genai_config.json (by the conversion and by a deployment) is the one with the best worst case, not the best idle
figure. Prints a table and writes bench/results/decode_under_load.json (--model tiny|bundled|auto)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from common import (  # noqa: E402 - common.py sits next to this script
    PROMPTS,
    bench_model,
    decode_args,
    import_variant,
    interleaved_tokens_per_s,
    write_results,
)

NEW_TOKENS = 32
ROUNDS = 3  # settings alternate within each round; the median of the rounds is reported
BUSY = """
import torch, sys
torch.set_num_threads(int(sys.argv[1]))
a = torch.randn(768, 768)
while True:
    a = torch.tanh(a @ a)
"""


def settings(cores: int) -> dict[str, dict]:
    """session_options for each candidate (onnxruntime's own default runs one thread on this kind of machine)."""
    from slmops_engine.genai_session import session_options

    return {
        f"{cores} threads, spinning (onnxruntime's default wait)": {"intra_op_num_threads": cores},
        "onnxruntime's default threads": {},
        "1 thread": {"intra_op_num_threads": 1},
        f"{cores} threads, no spinning": {"intra_op_num_threads": cores, "session.intra_op.allow_spinning": "0"},
        "shipped": session_options(),
    }


def with_options(model: Path, options: dict, where: Path) -> Path:
    from slmops_engine.genai_session import apply_session_options

    dst = where / f"m{len(list(where.iterdir()))}"
    shutil.copytree(model, dst, copy_function=os.link)
    path = dst / "genai_config.json"
    genai = json.loads(path.read_text())
    path.unlink()  # a hard link: never write through into the model
    apply_session_options(genai, options)
    path.write_text(json.dumps(genai))
    return dst


def main() -> int:
    args = decode_args(__doc__)
    os.environ.setdefault("SLMOPS_HOME", tempfile.mkdtemp(prefix="slmops-bench-"))
    from transformers import AutoTokenizer

    from slmops_engine.db import init_db
    from slmops_engine.genai_session import cpu_threads
    from slmops_engine.stage_api import Reporter
    from slmops_engine.stages import convert

    init_db()
    src = bench_model(args.model, dtype="float32")
    v = import_variant(src)
    made = convert.run(convert.Config(variant_id=v.id, precision="int4"), Reporter())
    model = Path(made["path"])
    tok = AutoTokenizer.from_pretrained(str(model))
    prompts = [
        tok.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True, return_dict=False)
        for p in PROMPTS
    ]
    cores = cpu_threads()
    work = Path(tempfile.mkdtemp(prefix="threads-"))
    copies = {name: with_options(model, opts, work) for name, opts in settings(cores).items()}
    speeds: dict[str, dict[str, list[float]]] = {name: {"idle": [], "busy": []} for name in copies}
    for situation in ("idle", "busy"):
        busy = None
        if situation == "busy":
            busy = subprocess.Popen([sys.executable, "-c", BUSY, str(cores)])
            time.sleep(3)
        try:
            for r in range(ROUNDS):
                for name, path in copies.items():
                    # one model at a time (its own warm-up), the settings alternating within each round
                    speed = interleaved_tokens_per_s({name: path}, prompts, NEW_TOKENS, rounds=1)[name]
                    speeds[name][situation].append(speed)
                print(situation, r, {k: v[situation][-1] for k, v in speeds.items()}, flush=True)
        finally:
            if busy:
                busy.kill()
                busy.wait()
    rows = []
    for name, s in speeds.items():
        idle, busy = sorted(s["idle"])[ROUNDS // 2], sorted(s["busy"])[ROUNDS // 2]
        rows.append({"setting": name, "idle_tok_s": idle, "busy_tok_s": busy, "worst_tok_s": min(idle, busy)})
    print(f"\n{'setting':55} {'idle tok/s':>10} {'busy tok/s':>10}")
    for r in rows:
        print(f"{r['setting']:55} {r['idle_tok_s']:>10.1f} {r['busy_tok_s']:>10.1f}")
    best = max(rows, key=lambda r: r["worst_tok_s"])
    print(f"best worst case: {best['setting']}")
    write_results(
        "decode_under_load",
        {
            "model": src.name,
            "cores": cores,
            "new_tokens": NEW_TOKENS,
            "rounds": ROUNDS,
            "rows": rows,
            "best": best["setting"],
            "shipped": settings(cores)["shipped"],
        },
    )
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
