"""Keep an uploaded file in a private staging folder until the operator accepts its rows.

The name comes from the browser and is not trusted: only its last part is kept, and a name that is empty, only
dots or holds control characters is refused, so nothing is ever written outside the fresh staging folder."""

from __future__ import annotations

import re
import shutil
import uuid
from pathlib import Path
from typing import BinaryIO

from ..errors import DataError
from ..settings import get_settings
from .readers import detect_format

MAX_STEM_BYTES = 100  # well under the 255-byte limit of common file systems, with room for the extension


def upload_name(name: str) -> str:
    """The last part of ``name`` (a client may send a Windows path or '../../f.csv'), its extension kept."""
    base = re.split(r"[\\/]", name)[-1].strip()
    if re.search(r"[\x00-\x1f]", name) or not base.strip("."):
        raise DataError(
            f"{name!r} cannot be used as a file name",
            "Rename the file (for example tickets.csv) and upload it again.",
        )
    path = Path(base)
    stem = path.stem.encode("utf-8")[:MAX_STEM_BYTES].decode("utf-8", "ignore")  # never cut a character in two
    return stem + path.suffix


def save_upload(name: str, content: BinaryIO) -> Path:
    """Copy ``content`` to uploads/<fresh folder>/<safe name>; refuses names and file types it cannot use."""
    folder = get_settings().home / "tmp" / f"upload-{uuid.uuid4().hex}"
    path = folder / upload_name(name)
    detect_format(path)  # an unsupported type is refused before a byte is written
    folder.mkdir(parents=True)
    try:
        with open(path, "wb") as f:
            shutil.copyfileobj(content, f)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return path
