"""`slmops synth`: the teacher answers a dataset's prompts (resumes from cached answers when run again)."""

from __future__ import annotations

import argparse

from ..db import init_db


def add_parser(sub) -> None:
    p = sub.add_parser("synth", help="the teacher answers a dataset's prompts (distillation stage 1)")
    p.add_argument("--dataset", type=int, required=True, help="id of the prompts dataset")
    p.add_argument("--project", required=True, help="project name or id")
    p.add_argument("--teacher-url", help="OpenAI-compatible base URL (default: the project's teacher)")
    p.add_argument("--teacher-model", help="model or deployment name")
    p.add_argument(
        "--provider",
        default="openai_compatible",
        choices=["openai_compatible", "openai", "azure_openai", "foundry_local", "ollama", "vllm"],
    )
    p.add_argument("--api-version", help="Azure OpenAI API version")
    p.add_argument("--api-key-env", help="name of the environment variable that holds the API key")
    p.add_argument("--system-prompt", help="instructions for the teacher (default: the project's)")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--requests-per-minute", type=int, default=0)
    p.add_argument("--request-timeout", type=float, default=60)
    p.add_argument("--max-tokens", type=int, default=256)
    p.add_argument("--temperature", type=float, default=0.2)
    p.add_argument("--max-prompts", type=int, help="answer only the first N prompts")
    p.add_argument("--wait", action="store_true", help="block until the job ends; print the new dataset id last")
    p.set_defaults(func=synth_cmd)


def _teacher(args: argparse.Namespace, project):
    from ..errors import ConfigError
    from ..projects import project_teacher
    from ..teachers import Provider, TeacherConfig

    base = project_teacher(project)
    if args.teacher_url:
        teacher = TeacherConfig.from_preset(
            Provider(args.provider),
            base_url=args.teacher_url,
            model=args.teacher_model or "",
            api_key_env=args.api_key_env,
            system_prompt=base.system_prompt if base else "",
            **({"api_version": args.api_version} if args.api_version else {}),
        )
    elif base is not None:
        teacher = base
    else:
        raise ConfigError(
            "No teacher", "Pass --teacher-url and --teacher-model, or choose the project's teacher on the Models page."
        )
    if args.system_prompt is not None:
        teacher = teacher.model_copy(update={"system_prompt": args.system_prompt})
    return teacher


def synth_cmd(args: argparse.Namespace) -> int:
    from ..projects import get_project
    from ..stages.synth import Config
    from .jobs_run import submit_and_follow

    init_db()
    project = get_project(args.project)
    cfg = Config(
        dataset_id=args.dataset,
        project_id=project.id,
        teacher=_teacher(args, project),
        concurrency=args.concurrency,
        requests_per_minute=args.requests_per_minute,
        request_timeout=args.request_timeout,
        max_tokens=args.max_tokens,
        temperature=args.temperature,
        max_prompts=args.max_prompts,
    )
    job = submit_and_follow("synth", cfg, project.id, wait=args.wait, what="the teacher is answering")
    if job is None:
        return 1 if args.wait else 0
    r = job.result
    print(
        f"{r['answered']} answered, {r['cached']} from earlier runs, {sum(r['failed'].values())} failed; "
        f"{r['prompt_tokens'] + r['completion_tokens']} tokens, cost {r['cost']:.4f}"
    )
    print(r["dataset_id"])
    return 0
