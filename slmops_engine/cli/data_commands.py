"""`slmops data ...`: import, show, split and export datasets."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..db import init_db


def add_parser(sub) -> None:
    dt = sub.add_parser("data", help="import, show, split and export datasets").add_subparsers(
        dest="action", required=True
    )
    im = dt.add_parser("import", help="validate a data file and store its rows as a dataset")
    im.add_argument("file", help="JSONL, JSON, CSV, Parquet, text (one prompt per line) or a saved HF dataset folder")
    im.add_argument("--project", required=True, help="project name or id")
    im.add_argument("--name", help="dataset name (default: the file name)")
    im.add_argument("--prompt", help="column with the prompt (when the guess is ambiguous)")
    im.add_argument("--response", help="column with the response")
    im.add_argument("--label", help="column with the class label")
    im.add_argument("--max-length", type=int, help="reject rows longer than this many tokens (student tokenizer)")
    im.add_argument("--tokenizer", help="folder of the student's tokenizer (default: the project's student)")
    im.add_argument("--accept-partial", action="store_true", help="import the valid rows when some are rejected")
    im.add_argument(
        "--rejected-out",
        help="write the rejected rows with their reasons to this CSV (also when the import is refused)",
    )
    im.set_defaults(func=data_import)
    sm = dt.add_parser("sample", help="import the sample dataset that ships with the app")
    sm.add_argument("--project", required=True)
    sm.set_defaults(func=data_sample)
    sh = dt.add_parser("show", help="show a dataset")
    sh.add_argument("dataset_id", type=int)
    sh.set_defaults(func=data_show)
    sp = dt.add_parser("split", help="make train / validation / test parts")
    sp.add_argument("dataset_id", type=int)
    sp.add_argument("--validation", type=float, default=0.1)
    sp.add_argument("--test", type=float, default=0.1)
    sp.add_argument("--seed", type=int, default=42)
    sp.add_argument("--no-stratify", action="store_true")
    sp.set_defaults(func=data_split)
    ex = dt.add_parser("export", help="write a dataset as JSONL")
    ex.add_argument("dataset_id", type=int)
    ex.add_argument("--out", required=True)
    ex.add_argument("--split", choices=["train", "validation", "test"])
    ex.set_defaults(func=data_export)


def _mapping(args: argparse.Namespace):
    if not args.prompt:
        return None
    from ..data import ColumnMapping

    shape = "prompt_response" if args.response else "prompts"
    return ColumnMapping(shape=shape, prompt=args.prompt, response=args.response, label=args.label)


def data_import(args: argparse.Namespace) -> int:
    from ..data import prepare_import, store_validated
    from ..errors import DataError
    from ..projects import get_project, student_folder

    init_db()
    project = get_project(args.project)
    tok = args.tokenizer or (student_folder(project) if args.max_length else None)
    if args.max_length and not tok:
        raise DataError(
            "--max-length needs the student's tokenizer", "Choose the project's student or pass --tokenizer FOLDER."
        )
    ins, mapping, report = prepare_import(
        args.file, mapping=_mapping(args), tokenizer_path=tok, max_length=args.max_length
    )
    try:
        print(report.summary(), file=sys.stderr)
        if args.rejected_out:  # before storing: a refused import is when the operator needs the rows most
            Path(args.rejected_out).write_bytes(report.rejected_csv())
        ds = store_validated(
            report,
            ins,
            mapping,
            project_id=project.id,
            name=args.name or Path(args.file).stem,
            accept_partial=args.accept_partial,
        )
    finally:
        report.discard()
    print(ds.id)
    return 0


def data_sample(args: argparse.Namespace) -> int:
    from ..data import import_sample
    from ..projects import get_project

    init_db()
    print(import_sample(get_project(args.project).id).id)
    return 0


def data_show(args: argparse.Namespace) -> int:
    from ..data import get_dataset, lineage, load_dataset_dict

    init_db()
    d = get_dataset(args.dataset_id)
    print(f"dataset {d.id}: {d.name} ({d.stage}) · {d.n_rows} rows · {d.info.get('shape_label', '')}")
    print("parts:   " + ", ".join(f"{k} {v}" for k, v in d.info.get("splits", {}).items()))
    if d.info.get("labels"):
        print("labels:  " + ", ".join(f"{k} {v}" for k, v in d.info["labels"].items()))
    if d.info.get("rejected"):
        print(f"rejected at import: {d.info['rejected']} ({d.info.get('reasons')})")
    chain = lineage(d.id)
    if len(chain) > 1:
        print("lineage: " + " ← ".join(f"{x.id} {x.stage}" for x in chain))
    dd = load_dataset_dict(d.id)
    first = next(iter(dd.values()))
    for row in first.select(range(min(3, len(first)))):
        print(f"  · {row['prompt'][:90]!r} → {(row['response'] or '')[:60]!r}")
    return 0


def data_split(args: argparse.Namespace) -> int:
    from ..data import SplitConfig, split_dataset

    init_db()
    cfg = SplitConfig(validation=args.validation, test=args.test, seed=args.seed, stratify=not args.no_stratify)
    d = split_dataset(args.dataset_id, cfg)
    print(d.id)
    return 0


def data_export(args: argparse.Namespace) -> int:
    from ..data import export_jsonl

    init_db()
    n = export_jsonl(args.dataset_id, Path(args.out), args.split)
    print(f"{n} rows written to {args.out}")
    return 0
