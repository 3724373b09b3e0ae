"""`slmops variants`, `slmops eval`, `slmops eval show`, `slmops report` and `slmops export`: find what to
compare, compare it, and hand the result over."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..db import init_db
from ..evaluate.result import EvaluationResult


def add_parser(sub) -> None:
    v = sub.add_parser("variants", help="every model variant: id, name, stage, format, precision, size, parent")
    v.add_argument("--project", help="project name or id")
    v.add_argument("--json", action="store_true", help="print JSON (for scripts)")
    v.set_defaults(func=variants_cmd)

    e = sub.add_parser("eval", help="evaluate variants on held-out rows; `slmops eval show ID` prints one")
    e.add_argument("action", nargs="?", choices=["show"], help="show a finished evaluation")
    e.add_argument("eval_id", nargs="?", type=int, help="the evaluation's job id (with show)")
    e.add_argument("--variants", default="", metavar="ID,ID", help="variant ids, ID:ADAPTER, deployment:ID, teacher")
    e.add_argument("--dataset", type=int, help="the dataset whose held-out rows every variant answers")
    e.add_argument("--project", help="project name or id (its teacher is 'teacher'; default: the dataset's)")
    e.add_argument("--split", default="test", choices=["train", "validation", "test"])
    e.add_argument("--limit", type=int, help="evaluate at most N rows")
    e.add_argument("--judge", action="store_true", help="the teacher scores each answer 1–10")
    e.add_argument("--max-new-tokens", type=int, help="longest answer (default: sized from the references)")
    e.add_argument("--price-in", type=float, default=0.0, help="teacher price per 1,000 prompt tokens")
    e.add_argument("--price-out", type=float, default=0.0, help="teacher price per 1,000 answer tokens")
    e.add_argument("--wait", action="store_true", help="block until done and print the comparison")
    e.add_argument("--out", type=Path, help="with --wait or show: write the evaluation JSON here")
    e.set_defaults(func=eval_cmd)

    r = sub.add_parser("report", help="write a project's evaluation report (one self-contained HTML file)")
    r.add_argument("--project", required=True, help="project name or id")
    r.add_argument("--eval", type=int, dest="eval_id", help="evaluation job id (default: the newest)")
    r.add_argument("--out", type=Path, required=True)
    r.set_defaults(func=report_cmd)

    x = sub.add_parser("export", help="zip an ONNX variant with its config, model card and report")
    x.add_argument("variant_id", type=int)
    x.add_argument("--eval", type=int, dest="eval_id", help="evaluation to include (default: the project's newest)")
    x.add_argument("--out", type=Path, required=True)
    x.set_defaults(func=export_cmd)


def _project_id(ref: str | None) -> int | None:
    from ..projects import get_project

    return get_project(ref).id if ref else None


def variants_cmd(args: argparse.Namespace) -> int:
    from ..evaluate.views import variant_rows

    init_db()
    rows = variant_rows(_project_id(args.project))
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    if not rows:
        print("no model variants yet")
        return 0
    print(f"{'id':<16} {'stage':<9} {'format':<8} {'precision':<9} {'size':>10}  {'parent':<6} name")
    for r in rows:
        size = f"{r['size'] / 1e6:.1f} MB" if r["size"] else "—"
        print(
            f"{r['id']!s:<16} {r['stage']:<9} {r['format']:<8} {r['precision'] or '—':<9} {size:>10}  "
            f"{r['parent'] or '—'!s:<6} {r['name']}"
        )
    return 0


def _print_comparison(ev: EvaluationResult) -> None:
    metric = ev.primary_metric
    print(f"{ev.rows} rows of dataset {ev.dataset_id} ({ev.split}); main measure: {metric}")
    heads = f"{metric:>14} {'rouge_l':>8} {'p50 ms':>8} {'tok/s':>7} {'peak MB':>8} {'size MB':>8}"
    print(f"{'id':<12} {'variant':<44} {heads}")
    for v in ev.variants:
        if not v.ok:
            print(f"{v.id!s:<12} {v.name[:44]:<44} failed: {v.error}")
            continue
        m = v.metrics

        def f(x, fmt):
            return fmt.format(x) if x is not None else "—"

        print(
            f"{v.id!s:<12} {v.name[:44]:<44} {f(v.metric(metric), '{:.1%}'):>14} {f(m.rouge_l, '{:.3f}'):>8} "
            f"{f(m.latency_p50_ms, '{:.0f}'):>8} {f(m.tokens_per_s, '{:.0f}'):>7} "
            f"{f(m.peak_rss_bytes and m.peak_rss_bytes / 1e6, '{:.0f}'):>8} "
            f"{f(m.size_bytes and m.size_bytes / 1e6, '{:.1f}'):>8}"
        )
    if ev.headline:
        print(ev.headline.sentence)
    if ev.recommendation:
        print(ev.recommendation.sentence)


def _write(ev: EvaluationResult, out: Path | None) -> None:
    if out is None:
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(ev.model_dump(mode="json"), indent=1), encoding="utf-8")
    print(f"evaluation written to {out}")


def eval_cmd(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..evaluate.config import EvalConfig
    from ..evaluate.runner import load_evaluation
    from .jobs_run import submit_and_follow

    init_db()
    if args.action == "show":
        if args.eval_id is None:
            raise ConfigError("Which evaluation?", "Give its job id: `slmops eval show ID`.")
        ev = load_evaluation(args.eval_id)
        _print_comparison(ev)
        _write(ev, args.out)
        return 0
    if not args.variants or args.dataset is None:
        raise ConfigError("Name the variants and the dataset", "e.g. `slmops eval --variants teacher,3,5 --dataset 2`")
    from ..data.store import get_dataset

    project_id = _project_id(args.project) if args.project else get_dataset(args.dataset).project_id
    cfg = EvalConfig(
        variants=[x for x in args.variants.split(",") if x.strip()],
        dataset_id=args.dataset,
        project_id=project_id,
        split=args.split,
        limit=args.limit,
        judge=args.judge,
        max_new_tokens=args.max_new_tokens,
        price_input_per_1k=args.price_in,
        price_output_per_1k=args.price_out,
    )
    job = submit_and_follow("evaluate", cfg, project_id, wait=args.wait, what="evaluating")
    if job is None:
        return 1 if args.wait else 0
    ev = load_evaluation(job.id)
    _print_comparison(ev)
    _write(ev, args.out)
    print(job.id)
    return 0


def _evaluation_for(project_id: int, eval_id: int | None) -> EvaluationResult:
    from ..errors import NotFoundError
    from ..evaluate.runner import load_evaluation
    from ..evaluate.views import latest_finished

    if eval_id is None:
        job = latest_finished(project_id)
        if job is None:
            raise NotFoundError("The project has no finished evaluation", "Run one: `slmops eval ... --wait`.")
        eval_id = job.id
    return load_evaluation(eval_id)


def report_cmd(args: argparse.Namespace) -> int:
    from ..evaluate.report import lineage_of, render_report
    from ..projects import get_project

    init_db()
    project = get_project(args.project)
    ev = _evaluation_for(project.id, args.eval_id)
    html = render_report(ev, project=project, lineage=lineage_of(ev))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(html, encoding="utf-8")
    print(f"report written to {args.out} ({len(html) / 1e6:.1f} MB, opens offline)")
    return 0


def export_cmd(args: argparse.Namespace) -> int:
    from ..db import get_or_raise
    from ..errors import NotFoundError
    from ..evaluate.export import export_bundle
    from ..models import ModelVariant

    init_db()
    v = get_or_raise(ModelVariant, args.variant_id, "Model variant", "`slmops variants` lists them.")
    ev = None
    if args.eval_id is not None:
        ev = _evaluation_for(v.project_id, args.eval_id)
    elif v.project_id is not None:
        try:
            ev = _evaluation_for(v.project_id, None)
        except NotFoundError:
            print("note: the project has no evaluation yet; the bundle goes without results and report")
    path = export_bundle(v.id, args.out, evaluation=ev)
    print(f"{v.name}: bundle written to {path}")
    return 0
