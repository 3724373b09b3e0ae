"""Command handlers for `slmops`. Each takes the parsed arguments and returns an exit code."""

from __future__ import annotations

import argparse
import sys

from ..db import init_db
from ..models import JobStatus

MARK = {"ok": "OK  ", "warn": "WARN", "fail": "FAIL", "info": "INFO"}


def _table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=False)]
    lines = ["  ".join(str(h).ljust(w) for h, w in zip(headers, widths, strict=False))]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=False)) for r in rows]
    return "\n".join(lines)


def doctor(_args: argparse.Namespace) -> int:
    from ..doctor import run_checks

    checks = run_checks()
    for c in checks:
        print(f"[{MARK[c.verdict]}] {c.name}: {c.detail}")
        if c.hint and c.verdict != "ok":
            print(f"       → {c.hint}")
    failed = [c for c in checks if c.verdict == "fail"]
    print(f"\n{len(failed)} problem(s) to fix." if failed else "\nReady.")
    return 1 if failed else 0


def db_upgrade(_args: argparse.Namespace) -> int:
    """Apply the schema migrations the database lacks (the app also applies them when it starts)."""
    from sqlalchemy import create_engine

    from ..schema import head, pending, upgrade
    from ..settings import get_settings

    eng = create_engine(get_settings().db_url)
    try:
        todo = pending(eng)
        upgrade(eng)
    finally:
        eng.dispose()
    print(f"applied {', '.join(todo)}; the schema is at {head()}" if todo else f"the schema is up to date ({head()})")
    return 0


def db_status(_args: argparse.Namespace) -> int:
    from sqlalchemy import create_engine

    from ..schema import BASELINE, head, pending, revision_of
    from ..settings import get_settings

    url = get_settings().db_url
    eng = create_engine(url)
    try:
        now, todo = revision_of(eng), pending(eng)
    finally:
        eng.dispose()
    print(f"{eng.dialect.name} database at {url.split('@')[-1]}")
    if now is None:
        now = "none yet" if not todo or todo[0] == BASELINE else f"{BASELINE} (made before migrations)"
    print(f"schema: {now} · newest: {head()}" + (f" · to apply: {', '.join(todo)}" if todo else ""))
    return 0


def users_add(args: argparse.Namespace) -> int:
    """Add a person who may sign in; the password is asked for (or read from stdin), never taken as an argument."""
    import getpass

    from ..users import add_user

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"Password for {args.name}: ")
        if getpass.getpass("Again: ") != password:
            print("The two passwords differ; nothing was changed.", file=sys.stderr)
            return 2
    add_user(args.name, password)
    print(f"added {args.name}: they can sign in when the dashboard runs with SLMOPS_SIGN_IN=1")
    return 0


def users_list(_args: argparse.Namespace) -> int:
    from ..users import list_users

    for u in list_users():
        print(f"{u.name}\tadded {u.created_at:%Y-%m-%d}")
    return 0


def users_remove(args: argparse.Namespace) -> int:
    from ..users import remove_user

    remove_user(args.name)
    print(f"removed {args.name}")
    return 0


def storage_sync(args: argparse.Namespace) -> int:
    """Send this machine's datasets and models to the object store, or fetch what it lacks from it."""
    from .. import artifacts
    from ..errors import ConfigError

    if not artifacts.enabled():
        raise ConfigError(
            "No object store is set", "Set SLMOPS_STORAGE_URL (an fsspec URL such as s3://bucket/slmops)."
        )
    n = artifacts.push() if args.action == "push" else artifacts.pull()
    print(f"{'sent' if args.action == 'push' else 'fetched'} {n} file(s)")
    return 0


def worker(args: argparse.Namespace) -> int:
    """`slmops worker`: the supervisor in the foreground, until stopped. `slmops worker stop`: stop the one that
    runs (in the background or in another terminal)."""
    from ..jobs.supervisor import main as supervisor_main

    init_db()
    return worker_stop() if args.action == "stop" else supervisor_main()


def worker_stop() -> int:
    from sqlmodel import func, select

    from ..db import session_scope
    from ..jobs.rows import HOST
    from ..jobs.supervisor import stop_supervisor, supervisor_mode
    from ..models import Job
    from ..settings import get_settings

    mode = supervisor_mode() or {}
    pid, gone = stop_supervisor()
    if pid is None:
        print(f"no supervisor runs for {get_settings().home}")
        return 0
    if not gone:
        print(f"error: the supervisor (pid {pid}) did not stop within 30 s", file=sys.stderr)
        print(f"hint: see {get_settings().home / 'supervisor.log'}; `kill -9 {pid}` ends it for good", file=sys.stderr)
        return 1
    how = {True: " (it ran in the background)", False: " (it ran in the foreground: `slmops worker`)"}
    print(f"stopped the supervisor (pid {pid}){how.get(mode.get('background'), '')}")
    with session_scope() as s:
        count = select(func.count()).select_from(Job)
        running = s.exec(count.where(Job.status == JobStatus.running, Job.host == HOST)).one()
        queued = s.exec(count.where(Job.status == JobStatus.queued)).one()
    if running:
        print(f"{running} running job(s) go on in their own processes; the next supervisor adopts them")
    if queued:
        print(f"{queued} queued job(s) wait for the next supervisor (`slmops worker`, the dashboard or a command)")
    return 0


def projects_list(_args: argparse.Namespace) -> int:
    from ..projects import list_projects

    init_db()
    rows = [[str(p.id), p.name, p.goal[:60], p.created_at.strftime("%Y-%m-%d %H:%M")] for p in list_projects()]
    empty = "No projects yet: `slmops projects create NAME`."
    print(_table(rows, ["ID", "NAME", "GOAL", "CREATED"]) if rows else empty)
    return 0


def projects_create(args: argparse.Namespace) -> int:
    from ..projects import create_project

    init_db()
    p = create_project(args.name, args.goal)
    print(p.id)
    return 0


def _fmt_job_row(j) -> list[str]:
    eta = f"{j.eta_seconds:.0f}s" if j.eta_seconds and j.status == JobStatus.running else ""
    return [str(j.id), j.kind, j.status.value, f"{j.progress * 100:.0f}%", eta, (j.error_label or j.message)[:70]]


def jobs_list(args: argparse.Namespace) -> int:
    from ..jobs import list_jobs
    from ..projects import get_project

    init_db()
    pid = get_project(args.project).id if args.project else None
    rows = [_fmt_job_row(j) for j in list_jobs(project_id=pid)]
    print(_table(rows, ["ID", "KIND", "STATUS", "PROGRESS", "ETA", "MESSAGE"]) if rows else "No jobs.")
    return 0


def jobs_show(args: argparse.Namespace) -> int:
    from ..jobs import get_job, job_log

    init_db()
    j = get_job(args.job_id)
    print(f"job {j.id}: {j.title} ({j.kind})")
    print(f"status:   {j.status.value} · {j.progress * 100:.0f}% · attempt {j.attempt}")
    print(f"message:  {j.message}")
    if j.error_label:
        print(f"error:    {j.error_label}\nhint:     {j.error_hint or ''}")
    if j.result:
        print(f"result:   {j.result}")
    log = job_log(j.id, tail_bytes=4000)
    if log:
        print("--- log (tail) ---\n" + log.rstrip())
    return 0


def jobs_cancel(args: argparse.Namespace) -> int:
    from ..jobs import cancel_job

    init_db()
    j = cancel_job(args.job_id)
    print(f"job {j.id}: {j.status.value}{' (stop requested)' if j.cancel_requested_at else ''}")
    return 0


def jobs_retry(args: argparse.Namespace) -> int:
    """Queue the job again and see that it runs: here with --wait when no supervisor runs, else in the supervisor
    (started when none runs)."""
    from ..jobs import retry_job
    from ..jobs.supervisor import ensure_supervisor
    from .jobs_run import report_failure, run_or_wait

    init_db()
    j = retry_job(args.job_id)
    print(f"job {j.id}: queued again (attempt {j.attempt})", file=sys.stderr if args.wait else sys.stdout)
    if args.wait:
        return report_failure(run_or_wait(j, f"retrying {j.kind}"))
    ensure_supervisor()
    return 0


def models_list(_args: argparse.Namespace) -> int:
    from ..catalog import CATALOG, estimate_for, fit_report
    from ..sysinfo import human_bytes, system_info

    sysi = system_info()
    rows = []
    for m in CATALOG:
        est = estimate_for(m, gpu=sysi.has_cuda)
        fits = fit_report(est, sysi)
        cell = {k: f"{human_bytes(getattr(est, k))} {fits[k]}" for k in fits}
        if not sysi.has_cuda:
            cell["qlora"] = "needs CUDA GPU"
        rows.append(
            [m.id, f"{m.params_b:g}B", m.license, cell["lora"], cell["full"], cell["qlora"], cell["int4_inference"]]
        )
    print(_table(rows, ["MODEL", "PARAMS", "LICENSE", "LORA", "FULL", "QLORA", "INT4 RUN"]))
    print(
        f"\nThis machine: {sysi.cpu_count} CPUs, {human_bytes(sysi.ram_available)} RAM free, "
        f"{'GPU: ' + sysi.gpus[0].name if sysi.gpus else 'no GPU'}. Estimates: batch 4, length 512."
    )
    return 0


def models_prepare_demo(args: argparse.Namespace) -> int:
    """Submit the preparation job and run it (here, or in the running supervisor), printing progress."""
    from ..jobs import submit_job
    from .jobs_run import report_failure, run_or_wait

    init_db()
    job = submit_job("prepare_model", {"force": args.force}, title="Prepare the bundled offline model")
    job = run_or_wait(job, "preparing the bundled model (about a minute)")
    code = report_failure(job)
    if code == 0:
        print(job.result["path"])
    return code
