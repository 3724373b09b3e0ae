"""Serving latency: the same int4 model answering the same prompts in this process (onnxruntime-genai) and through
a Foundry Local deployment (the model server, its OpenAI-compatible endpoint, the `openai` client, streaming).

Shows what the serving layer costs: time to first token, tokens/s and the time to deploy. Prints a table and writes
bench/results/serve_latency.json (--model tiny|bundled, default bundled when it is prepared)."""

from __future__ import annotations

import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from common import PROMPTS  # noqa: E402 - common.py sits next to this script


def in_process(path: Path, new_tokens: int) -> dict:
    from slmops_engine.serving.adapter_chat import AdapterModel, adapter_chat

    m = AdapterModel(path)  # the in-app chat path, without adapters
    return _measure(lambda msgs: adapter_chat(m, msgs, None, max_tokens=new_tokens, temperature=0))


def served(dep, new_tokens: int) -> dict:
    from slmops_engine.serving.chat import chat

    return _measure(lambda msgs: chat(dep, msgs, max_tokens=new_tokens, temperature=0))


def _measure(start) -> dict:
    start([{"role": "user", "content": "warm up"}]).__iter__().__next__()  # first call pays one-off setup
    ttft, speed, total = [], [], []
    for p in PROMPTS * 2:
        answer = start([{"role": "user", "content": p}])
        t0 = time.perf_counter()
        "".join(answer)
        total.append(time.perf_counter() - t0)
        if answer.ttft_ms is not None:  # a random tiny model may answer nothing printable
            ttft.append(answer.ttft_ms)
        if answer.tokens_per_s:
            speed.append(answer.tokens_per_s)
    return {
        "ttft_ms": round(statistics.median(ttft), 1) if ttft else None,
        "tokens_per_s": round(statistics.median(speed), 1) if speed else None,
        "answer_s": round(statistics.median(total), 3),
    }


def main() -> int:
    from common import bench_model, decode_args, import_variant, write_results

    args = decode_args(__doc__)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        os.environ["SLMOPS_SERVE_PORT"] = str(s.getsockname()[1])
    from slmops_engine.db import init_db
    from slmops_engine.models import DeploymentStatus
    from slmops_engine.serving import deployments as deps
    from slmops_engine.stage_api import Reporter
    from slmops_engine.stages import convert

    init_db()
    src = bench_model(args.model)
    v = import_variant(src)
    r = convert.run(convert.Config(variant_id=v.id, precision="int4"), Reporter(Path(tempfile.mkdtemp())))
    local = in_process(Path(r["path"]), args.new_tokens)
    t0 = time.perf_counter()
    dep = deps.wait_for(deps.deploy(r["variant_id"]).id, {DeploymentStatus.running, DeploymentStatus.failed}, 300)
    deploy_s = time.perf_counter() - t0
    try:
        if dep.status != DeploymentStatus.running:
            print(f"deployment failed: {dep.error_label} — {dep.error_hint}")
            return 1
        remote = served(dep, args.new_tokens)
    finally:
        deps.stop_server()
    rows = {"in process (onnxruntime-genai)": local, "Foundry Local endpoint (openai client)": remote}
    print(f"model {src.name} int4; {args.new_tokens} new tokens; median of {2 * len(PROMPTS)} answers")
    print(f"deploy (model server start + place + load): {deploy_s:.1f} s")
    print(f"{'path':<40} {'TTFT ms':>9} {'tokens/s':>9} {'answer s':>9}")
    for name, m in rows.items():
        print(f"{name:<40} {m['ttft_ms']:>9} {m['tokens_per_s'] or '—':>9} {m['answer_s']:>9}")
    out = {"model": src.name, "new_tokens": args.new_tokens, "deploy_seconds": round(deploy_s, 2)}
    for key, m in (("in_process", local), ("served", remote)):
        out |= {f"{key}_{k}": v for k, v in m.items()}
    if local["tokens_per_s"] and remote["tokens_per_s"] and local["ttft_ms"] and remote["ttft_ms"]:
        out["served_speed_ratio"] = round(remote["tokens_per_s"] / local["tokens_per_s"], 3)
        out["served_extra_ttft_ms"] = round(remote["ttft_ms"] - local["ttft_ms"], 1)
        print(
            f"served / in process: {out['served_speed_ratio']:.2f}x tokens/s, "
            f"{out['served_extra_ttft_ms']:+.1f} ms to the first token"
        )
    write_results("serve_latency", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
