"""Artifacts in a shared object store, for a Ray cluster whose nodes share no filesystem.

With ``SLMOPS_STORAGE_URL`` set (any fsspec URL: ``s3://bucket/slmops``, ``gs://…``, ``file:///mnt/store``), the
datasets, models and job runs under SLMOPS_HOME are mirrored there under the same relative paths. Every node keeps
SLMOPS_HOME at the same path, so the paths the database holds stay true on each of them:

- a job on a Ray node fetches what it lacks before it starts and sends what it made when it ends;
- the dashboard sends what it makes itself (imported and reviewed datasets), and the job supervisor fetches what a
  job made as soon as the job ends, so the pages read it from disk as with one machine.

A file is copied when the other side lacks it or holds a different size (artifacts are written once, under new
names, so the size tells a partial copy from a complete one)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from pathlib import Path

from .settings import get_settings

log = logging.getLogger("slmops.artifacts")
SHARED = ("datasets", "models")  # what any job may read; runs/<id> belong to their job


def enabled() -> bool:
    return bool(get_settings().storage_url)


def _store():
    from fsspec.core import url_to_fs

    return url_to_fs(get_settings().storage_url)


def _remote_sizes(fs, root: str, rel: str) -> dict[str, int]:
    """Relative path → size of every file the store holds under ``rel``."""
    base = f"{root.rstrip('/')}/{rel}"
    if not fs.exists(base):
        return {}
    found = fs.find(base, detail=True)
    prefix = root.rstrip("/") + "/"
    return {name[len(prefix) :] if name.startswith(prefix) else name: int(info["size"]) for name, info in found.items()}


def _local_files(home: Path, rel: str) -> dict[str, int]:
    base = home / rel
    if base.is_file():
        return {rel: base.stat().st_size}
    if not base.is_dir():
        return {}
    return {str(f.relative_to(home)): f.stat().st_size for f in base.rglob("*") if f.is_file()}


def _unfinished(name: str) -> bool:
    """A folder still being written (datasets' .staging-…, models' ….partial): never sent."""
    return any(part.startswith(".staging") or part.endswith(".partial") for part in Path(name).parts)


def _differing(rels: Iterable[str], sending: bool) -> Iterator[tuple[object, str, Path]]:
    """(store, the file's path there, its path here) of each file one side has and the other lacks (or holds at
    another size), in the direction asked."""
    fs, root = _store()
    home = get_settings().home
    for rel in rels:
        local, remote = _local_files(home, rel), _remote_sizes(fs, root, rel)
        source, target = (local, remote) if sending else (remote, local)
        for name, size in source.items():
            if target.get(name) != size and not _unfinished(name):
                yield fs, f"{root.rstrip('/')}/{name}", home / name


def push(rels: Iterable[str] = SHARED) -> int:
    """Send the files under these folders (relative to SLMOPS_HOME) that the store lacks; how many were sent."""
    if not enabled():
        return 0
    sent = 0
    for fs, remote, local in _differing(rels, sending=True):
        fs.makedirs(remote.rsplit("/", 1)[0], exist_ok=True)
        fs.put_file(str(local), remote)
        sent += 1
    log.info("sent %d files to %s", sent, get_settings().storage_url)
    return sent


def pull(rels: Iterable[str] = SHARED) -> int:
    """Fetch the files under these folders that this machine lacks; how many were fetched."""
    if not enabled():
        return 0
    fetched = 0
    for fs, remote, local in _differing(rels, sending=False):
        local.parent.mkdir(parents=True, exist_ok=True)
        partial = local.with_name(local.name + ".partial")
        fs.get_file(remote, str(partial))
        partial.replace(local)  # a reader never sees half a file
        fetched += 1
    log.info("fetched %d files from %s", fetched, get_settings().storage_url)
    return fetched


def job_folders(job_id: int) -> tuple[str, ...]:
    """What a job may have made: the shared folders and its own run folder."""
    return (*SHARED, f"runs/{job_id}")
