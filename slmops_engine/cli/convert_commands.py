"""`slmops quantize VARIANT --precision int4`: convert a model variant to ONNX with onnxruntime-genai."""

from __future__ import annotations

import argparse

from ..db import init_db


def add_parser(sub) -> None:
    p = sub.add_parser("quantize", help="convert a model variant to ONNX fp32 / int8 / int4")
    p.add_argument("variant_id", type=int, help="id of a Hugging Face model variant (base or fine-tuned)")
    p.add_argument("--precision", choices=["fp32", "int8", "int4", "fp16", "bf16"], default="int4")
    p.add_argument("--block-size", type=int, choices=[16, 32, 64, 128, 256], default=32, help="int4 block size")
    p.add_argument("--accuracy-level", type=int, choices=[0, 1, 2, 3, 4], default=4)
    p.add_argument("--asymmetric", action="store_true", help="int4 with zero points")
    p.add_argument(
        "--method",
        choices=["auto", "rtn", "k_quant", "grid"],
        default="auto",
        help="int4 rounding: auto keeps a 4-bit model's blocks (grid) where that fits, else round to nearest",
    )
    p.add_argument(
        "--output-layer",
        choices=["auto", "int4", "int8", "int8_likely"],
        default="auto",
        help="int4 output layer precision (int8_likely: the likeliest tokens' rows in int8 as well; auto: "
        "int8_likely with grid rounding, else int4)",
    )
    p.add_argument("--sensitive-layers", choices=["int4", "int8"], default="int4", help="int4: llama.cpp's mixed")
    p.add_argument(
        "--adapters",
        default="",
        metavar="ID,ID",
        help="LoRA fine-tunes of VARIANT (a base model) to serve from one ONNX base, one adapter file each",
    )
    p.add_argument("--wait", action="store_true", help="block until converted; print the new variant id last")
    p.set_defaults(func=quantize_cmd)


def quantize_cmd(args: argparse.Namespace) -> int:
    from ..optimize.config import ConvertConfig
    from ..optimize.convert import source_variant
    from .jobs_run import submit_and_follow

    init_db()
    src = source_variant(args.variant_id)
    cfg = ConvertConfig(
        variant_id=src.id,
        precision=args.precision,
        int4_block_size=args.block_size,
        int4_accuracy_level=args.accuracy_level,
        int4_symmetric=not args.asymmetric,
        int4_method=args.method,
        int4_output_layer=args.output_layer,
        int4_sensitive_layers=args.sensitive_layers,
        adapter_ids=[int(x) for x in args.adapters.split(",") if x.strip()],
    )
    job = submit_and_follow("convert", cfg, src.project_id, wait=args.wait, what=f"converting to {args.precision}")
    if job is None:
        return 1 if args.wait else 0
    r = job.result
    route = f" ({r['int4_route']})" if r.get("int4_route") else ""
    print(
        f"{args.precision}{route}: {r['size_bytes'] / 1e6:.1f} MB ({r['size_ratio_to_source']:.0%} of the source); "
        f"model at {r['path']}"
    )
    for a in r.get("adapters") or []:
        print(f"adapter {a['name']}: {a['size_bytes'] / 1e6:.2f} MB at {a['file']}")
    print(r["variant_id"])
    return 0
