"""Hugging Face hub access that fails fast and clearly on a machine that cannot reach it."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from pathlib import Path

from .errors import HubUnreachableError

TRUTHY = {"1", "true", "yes", "on"}


def hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def hub_offline_by_setting() -> bool:
    return any(os.environ.get(v, "").lower() in TRUTHY for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def hub_reachable(timeout: float = 3.0) -> tuple[bool, str]:
    """(reachable, reason). Never waits longer than ``timeout`` seconds."""
    if hub_offline_by_setting():
        return False, "offline mode is on (HF_HUB_OFFLINE)"
    url = f"{hub_endpoint()}/api/models?limit=1"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout):
            return True, "reachable"
    except urllib.error.HTTPError as exc:  # the server answered: it is reachable
        return exc.code < 500, f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return False, f"{hub_endpoint()} cannot be reached ({reason})"


def local_snapshot(model_id: str) -> Path | None:
    """The model's folder when it is already in the local Hugging Face cache."""
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(model_id, local_files_only=True))
    except Exception:  # noqa: BLE001 - any failure means "not cached"
        return None


def unreachable_error(model_id: str, reason: str) -> HubUnreachableError:
    return HubUnreachableError(
        f"{model_id} is not on this machine and the model hub cannot be reached: {reason}",
        f"On a connected machine run `hf download {model_id} --local-dir DIR`, copy DIR here and choose "
        "'A model folder on this machine' — or use the bundled offline model, which needs no download.",
    )


def resolve_hub_model(model_id: str, timeout: float = 3.0) -> Path:
    """A local folder for a hub model id: from the cache, else downloaded; a clear error when offline."""
    cached = local_snapshot(model_id)
    if cached is not None:
        return cached
    ok, reason = hub_reachable(timeout)
    if not ok:
        raise unreachable_error(model_id, reason)
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(model_id, etag_timeout=timeout))
    except Exception as exc:  # noqa: BLE001 - gated repos, network drops: all end in one clear message
        raise HubUnreachableError(
            f"{model_id} could not be downloaded: {exc}",
            "Check the model id; gated models (e.g. Llama) need `hf auth login` and an accepted licence.",
        ) from exc
