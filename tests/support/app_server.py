"""The real app as an operator runs it — `streamlit run app.py` on a free loopback port, with the supervisor it
starts for its home — and Debian's headless Chromium to look at it. Used by the browser tests and bench/ui_idle.py."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
START_TIMEOUT = 60
UI_TIMEOUT_MS = 20_000


class AppDidNotStart(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(pid: int, timeout: float = 10) -> None:
    """SIGTERM, then SIGKILL if the process has not ended in time."""
    try:
        proc = psutil.Process(pid)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout)
    except psutil.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)
    except psutil.NoSuchProcess:
        pass


@contextmanager
def running_app(home: Path, log_path: Path, address: str = "127.0.0.1") -> Iterator[tuple[str, subprocess.Popen]]:
    """The app serving ``home`` (its database and models) → (its URL, the streamlit process); stopped afterwards,
    with the supervisor it started. AppDidNotStart carries the end of its log."""
    from slmops_engine.jobs.supervisor import supervisor_pid

    port = free_port()
    env = dict(os.environ, SLMOPS_HOME=str(home), HF_HUB_OFFLINE="1")
    env.pop("SLMOPS_NO_SUPERVISOR", None)  # the app starts its own supervisor, as for an operator
    streamlit = shutil.which("streamlit", path=str(Path(sys.executable).parent)) or "streamlit"
    cmd = [streamlit, "run", "app.py", "--server.port", str(port), "--server.headless", "true"]
    # No file watcher: the app never reloads its code here, and watching .venv can exhaust inotify.
    cmd += ["--server.address", address, "--server.fileWatcherType", "none"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                raise AppDidNotStart(f"streamlit exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AppDidNotStart(f"streamlit did not answer in {START_TIMEOUT}s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.3)
        yield url, proc
    finally:
        stop(proc.pid)
        pid = supervisor_pid()  # started by the app for this home, in its own session
        if pid:
            stop(pid)


class LeftTheMachine(AssertionError):
    pass


def _off_host(url: str) -> bool:
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0].rsplit(":", 1)[0]
    return scheme in ("http", "https", "ws", "wss") and host not in ("127.0.0.1", "localhost")


@contextmanager
def browser_page() -> Iterator:
    """A page of Debian's headless Chromium with the suite's timeouts. Everything the app's pages load must come
    from the app itself: a request that leaves this machine fails the page's user (LeftTheMachine)."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.set_default_timeout(UI_TIMEOUT_MS)
            expect.set_options(timeout=UI_TIMEOUT_MS)
            away: list[str] = []
            page.on("request", lambda r: away.append(r.url) if _off_host(r.url) else None)
            yield page
            if away:
                raise LeftTheMachine(f"{len(away)} requests left 127.0.0.1, e.g. {sorted(set(away))[:3]}")
        finally:
            browser.close()
