"""`slmops`: the command line on the same engine as the dashboard.

Every command exits non-zero with a plain-language message (no traceback; set SLMOPS_DEBUG=1 for one)."""

from __future__ import annotations

import argparse
import os
import sys

from pydantic import ValidationError

from ..errors import SlmopsError, describe_exception
from ..secrets import redact
from . import (
    commands,
    convert_commands,
    data_commands,
    eval_commands,
    finetune_commands,
    keys_commands,
    pipeline_commands,
    serve_commands,
    sweep_commands,
    synth_commands,
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="slmops", description="SLMOps Studio command line.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("doctor", help="check this machine and the installation").set_defaults(func=commands.doctor)
    db = sub.add_parser("db", help="the metadata database's schema").add_subparsers(dest="action", required=True)
    db.add_parser("upgrade", help="apply the schema migrations it lacks").set_defaults(func=commands.db_upgrade)
    db.add_parser("status", help="the schema it is at, and what is left to apply").set_defaults(func=commands.db_status)
    us = sub.add_parser("users", help="who may sign in to a shared dashboard").add_subparsers(
        dest="action", required=True
    )
    ua = us.add_parser("add", help="add a person (asks for the password)")
    ua.add_argument("name")
    ua.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    ua.set_defaults(func=commands.users_add)
    us.add_parser("list", help="list who may sign in").set_defaults(func=commands.users_list)
    ur = us.add_parser("remove", help="remove a person")
    ur.add_argument("name")
    ur.set_defaults(func=commands.users_remove)
    so = sub.add_parser("storage", help="the object store shared by a Ray cluster").add_subparsers(
        dest="action", required=True
    )
    so.add_parser("push", help="send this machine's datasets and models").set_defaults(func=commands.storage_sync)
    so.add_parser("pull", help="fetch the datasets and models this machine lacks").set_defaults(
        func=commands.storage_sync
    )
    w = sub.add_parser(
        "worker",
        help="run this home's job supervisor in the foreground (starts queued jobs); `worker stop` stops the one "
        "that runs",
    )
    w.add_argument("action", nargs="?", choices=["stop"], help="stop: stop the supervisor that runs for this home")
    w.set_defaults(func=commands.worker)

    pr = sub.add_parser("projects", help="list or create projects").add_subparsers(dest="action", required=True)
    pr.add_parser("list", help="list projects").set_defaults(func=commands.projects_list)
    c = pr.add_parser("create", help="create a project")
    c.add_argument("name")
    c.add_argument("--goal", default="", help="the project's goal in one sentence")
    c.set_defaults(func=commands.projects_create)

    jb = sub.add_parser("jobs", help="list, inspect, cancel or retry jobs").add_subparsers(dest="action", required=True)
    jl = jb.add_parser("list", help="list jobs")
    jl.add_argument("--project", help="project name or id")
    jl.set_defaults(func=commands.jobs_list)
    for name, func, helptext in (
        ("show", commands.jobs_show, "show a job with its log tail"),
        ("cancel", commands.jobs_cancel, "cancel a queued or running job"),
        ("retry", commands.jobs_retry, "queue a finished job again (resumes where the stage supports it)"),
    ):
        a = jb.add_parser(name, help=helptext)
        a.add_argument("job_id", type=int)
        if name == "retry":
            a.add_argument("--wait", action="store_true", help="run it (or follow it) to the end")
        a.set_defaults(func=func)

    md = sub.add_parser("models", help="the student catalog and the bundled model").add_subparsers(
        dest="action", required=True
    )
    md.add_parser("list", help="catalog with memory estimates for this machine").set_defaults(func=commands.models_list)
    pd = md.add_parser("prepare-demo", help="convert the bundled SmolLM2-135M-Instruct once (offline)")
    pd.add_argument("--force", action="store_true", help="convert again even if prepared")
    pd.set_defaults(func=commands.models_prepare_demo)
    data_commands.add_parser(sub)
    synth_commands.add_parser(sub)
    finetune_commands.add_parser(sub)
    sweep_commands.add_parser(sub)
    convert_commands.add_parser(sub)
    serve_commands.add_parser(sub)
    eval_commands.add_parser(sub)
    pipeline_commands.add_parser(sub)
    keys_commands.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")  # the CLI prints its own summary lines
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except SlmopsError as exc:
        print(f"error: {redact(exc.message)}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {redact(exc.hint)}", file=sys.stderr)
        _maybe_traceback()
        return 2
    except ValidationError as exc:
        print("error: invalid settings:", file=sys.stderr)
        for e in exc.errors():
            print(f"  {'.'.join(str(x) for x in e['loc']) or 'value'}: {e['msg']}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the operator gets a label and hint, never a bare traceback
        label, hint = describe_exception(exc)
        label, hint = redact(label) or "", redact(hint) or ""
        print(f"error: {label}\nhint: {hint}", file=sys.stderr)
        _maybe_traceback()
        return 1


def _maybe_traceback() -> None:
    if os.environ.get("SLMOPS_DEBUG"):
        import traceback

        traceback.print_exc()


if __name__ == "__main__":
    sys.exit(main())
