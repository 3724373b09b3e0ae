"""A throwaway PostgreSQL server for the tests: Debian's server binaries, a cluster in a temporary folder, on a free
port of 127.0.0.1, run as the ``postgres`` user when this process is root (the server refuses to run as root).

``python -m tests.support.postgres start DIR`` starts one and prints ``export SLMOPS_TEST_POSTGRES_URL=…`` (what
.ci/run does); ``stop DIR`` stops it. The suite's ``postgres_url`` fixture uses that server, or starts its own."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import uuid
from pathlib import Path

ENV = "SLMOPS_TEST_POSTGRES_URL"


class NoPostgres(RuntimeError):
    pass


def server_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise NoPostgres("PostgreSQL's server is not installed (apt-get install postgresql)")
    return Path(found[-1]).parent


def _as_server_user(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    runuser = shutil.which("runuser")
    if runuser is None:
        raise NoPostgres("running as root, but runuser is missing: cannot start the server as postgres")
    return [runuser, "-u", "postgres", "--", *cmd]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(folder: Path) -> str:
    """Create a cluster in ``folder`` and start it; the SQLAlchemy URL of its ``postgres`` database."""
    bins = server_bin()
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "data"
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    port = _free_port()
    run = dict(check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        if not data.exists():
            subprocess.run(
                _as_server_user([str(bins / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]), **run
            )
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        pg_ctl = [str(bins / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "server.log"), "-w", "start"]
        subprocess.run(_as_server_user(pg_ctl), **run)
    except subprocess.CalledProcessError as exc:
        log = folder / "server.log"
        raise NoPostgres(f"{exc.stderr.decode(errors='replace')}{log.read_text() if log.exists() else ''}") from exc
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"


def stop(folder: Path) -> None:
    data = folder / "data"
    if data.exists():
        cmd = [str(server_bin() / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]
        subprocess.run(_as_server_user(cmd), check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def fresh_database(server_url: str) -> str:
    """A new, empty database on the server (each test gets its own): its URL."""
    from sqlalchemy import create_engine, text

    name = f"t_{uuid.uuid4().hex[:12]}"
    eng = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with eng.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        eng.dispose()
    return server_url.rsplit("/", 1)[0] + f"/{name}"


if __name__ == "__main__":
    action, where = sys.argv[1], Path(sys.argv[2])
    if action == "start":
        print(f"export {ENV}={start(where)}")
    else:
        stop(where)
