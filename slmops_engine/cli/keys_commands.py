"""`slmops keys set|check|delete NAME`: API keys in the OS keyring, under the variable name a teacher names."""

from __future__ import annotations

import argparse
import os
import sys


def add_parser(sub) -> None:
    p = sub.add_parser("keys", help="keep API keys in the OS keyring (never in the database)").add_subparsers(
        dest="action", required=True
    )
    s = p.add_parser("set", help="keep a key under NAME: typed (hidden), piped on stdin, or --from-env")
    s.add_argument("name", help="the variable name the teacher uses, e.g. OPENAI_API_KEY")
    s.add_argument("--from-env", action="store_true", help="keep the value NAME has in this shell's environment")
    s.set_defaults(func=keys_set)
    for name, func, helptext in (
        ("check", keys_check, "say whether a key is available under NAME (environment or keyring)"),
        ("delete", keys_delete, "forget the key kept under NAME"),
    ):
        a = p.add_parser(name, help=helptext)
        a.add_argument("name")
        a.set_defaults(func=func)


def keys_set(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..keystore import store_key

    if args.from_env:
        value = os.environ.get(args.name, "")
        if not value:
            raise ConfigError(f"{args.name} is not set in this shell", f"`export {args.name}=...` first.")
    elif sys.stdin.isatty():
        import getpass

        value = getpass.getpass(f"{args.name}: ")
    else:
        value = sys.stdin.readline().strip()
    store_key(args.name, value)
    print(f"{args.name}: kept in the keyring; jobs that name it find it from now on.")
    return 0


def keys_check(args: argparse.Namespace) -> int:
    from ..keystore import get_key

    where = "environment" if os.environ.get(args.name) else "keyring" if get_key(args.name) else None
    print(f"{args.name}: {'available (' + where + ')' if where else 'not set'}")
    return 0 if where else 1


def keys_delete(args: argparse.Namespace) -> int:
    from ..keystore import delete_key

    print(f"{args.name}: {'forgotten' if delete_key(args.name) else 'nothing was kept'}")
    return 0
