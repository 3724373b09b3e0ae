"""`slmops deploy VARIANT`, `slmops deployments`, `slmops undeploy ID`, `slmops chat ID "message"`: serve ONNX models
with Foundry Local and talk to them, from the shell."""

from __future__ import annotations

import argparse
import sys

from ..db import init_db


def add_parser(sub) -> None:
    d = sub.add_parser("deploy", help="serve an ONNX model variant with Foundry Local (OpenAI-compatible endpoint)")
    d.add_argument("variant_id", type=int, help="id of an ONNX model variant (slmops quantize makes them)")
    d.add_argument("--temperature", type=float, help="default temperature of answers")
    d.add_argument("--top-p", type=float, help="default nucleus sampling of answers")
    d.add_argument("--max-length", type=int, help="context length (prompt + answer, tokens)")
    d.add_argument("--no-wait", action="store_true", help="return at once instead of waiting until it answers")
    d.set_defaults(func=deploy_cmd)
    ls = sub.add_parser("deployments", help="list deployments: status, endpoint, model id, health, requests")
    ls.set_defaults(func=deployments_cmd)
    u = sub.add_parser("undeploy", help="stop a deployment and remove it")
    u.add_argument("deployment_id", type=int)
    u.add_argument("--keep", action="store_true", help="only stop it (it can be restarted)")
    u.set_defaults(func=undeploy_cmd)
    c = sub.add_parser("chat", help="send one message to a deployment and stream the answer")
    c.add_argument("deployment_id", type=int)
    c.add_argument("message")
    c.add_argument("--system", default=None, help="system prompt")
    c.add_argument("--max-tokens", type=int, default=256)
    c.add_argument("--temperature", type=float, default=None)
    c.set_defaults(func=chat_cmd)


def deploy_cmd(args: argparse.Namespace) -> int:
    from ..models import DeploymentStatus
    from ..serving.deployments import deploy, wait_for

    init_db()
    gen = {"temperature": args.temperature, "top_p": args.top_p, "max_length": args.max_length}
    d = deploy(args.variant_id, generation={k: v for k, v in gen.items() if v is not None})
    if not args.no_wait:
        d = wait_for(d.id, {DeploymentStatus.running, DeploymentStatus.failed}, 300)
    if d.status == DeploymentStatus.failed:
        print(f"error: {d.error_label}\nhint: {d.error_hint}", file=sys.stderr)
        return 1
    print(f"deployment {d.id}: {d.status.value} · model {d.model_id} · endpoint {d.endpoint or '(starting)'}")
    print(d.id)
    return 0


def deployments_cmd(args: argparse.Namespace) -> int:
    from ..serving.deployments import list_deployments

    init_db()
    rows = list_deployments()
    if not rows:
        print("no deployments (slmops deploy VARIANT serves an ONNX model)")
    for d in rows:
        health = f"{d.last_probe_ms:.0f} ms" if d.last_probe_ms is not None else "—"
        health += "" if d.last_probe_ok in (None, True) else " (failing)"
        print(
            f"{d.id:>4}  {d.status.value:<9}  {d.model_id:<40}  {d.endpoint or '—':<28}  "
            f"health {health:<10}  {d.requests} requests"
        )
        if d.error_label:
            print(f"      {d.error_label}: {d.error_hint}")
    return 0


def undeploy_cmd(args: argparse.Namespace) -> int:
    from ..models import DeploymentStatus
    from ..serving.deployments import remove, stop, wait_for

    init_db()
    if args.keep:
        d = stop(args.deployment_id)
        wait_for(d.id, {DeploymentStatus.stopped, DeploymentStatus.failed}, 60)
        print(f"deployment {d.id} stopped")
    else:
        remove(args.deployment_id)
        print(f"deployment {args.deployment_id} removed")
    return 0


def chat_cmd(args: argparse.Namespace) -> int:
    from ..serving.chat import chat
    from ..serving.deployments import check_server, get_deployment

    init_db()
    check_server()
    messages = ([{"role": "system", "content": args.system}] if args.system else []) + [
        {"role": "user", "content": args.message}
    ]
    answer = chat(
        get_deployment(args.deployment_id), messages, max_tokens=args.max_tokens, temperature=args.temperature
    )
    for piece in answer:
        sys.stdout.write(piece)
        sys.stdout.flush()
    speed = f" · {answer.tokens_per_s:.1f} tokens/s" if answer.tokens_per_s else ""
    print(f"\n[{answer.tokens} tokens · first after {answer.ttft_ms or 0:.0f} ms{speed}]", file=sys.stderr)
    return 0
