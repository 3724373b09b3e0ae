"""API keys in the OS keyring, under the name of the variable a teacher names: the place the dashboard and the
command line put a key the operator types (or has exported), and where a worker looks when its environment lacks
it. A worker started before the key was exported then still finds it. The value never goes to the database, a job's
settings, a log or a page."""

from __future__ import annotations

import os
import re

from .errors import ConfigError

SERVICE = "slmops-studio"
# Backends that keep keys in a plain file (keyrings.alt) or nowhere: used only when the operator names one in
# PYTHON_KEYRING_BACKEND, never picked by default — a key must not land on disk unasked.
NOT_A_KEYRING = ("keyrings.alt", "keyring.backends.fail", "keyring.backends.null")


KEY_PREFIXES = ("sk-", "sk_", "gsk_", "hf_", "xai-", "AIza", "ghp_", "gho_", "github_pat_", "pk-", "rk-")


def looks_like_a_key(value: str) -> bool:
    """A secret typed where a variable's name belongs: a known key prefix, a long run of hex digits (an Azure key
    is 32), or a long random-looking word (letters and digits mixed, no underscore), which names rarely are."""
    if value.startswith(KEY_PREFIXES) or re.fullmatch(r"[0-9a-fA-F]{20,}", value):
        return True
    mixed = any(c.isdigit() for c in value) and any(c.islower() for c in value) and any(c.isupper() for c in value)
    return "_" not in value and (len(value) >= 32 or (len(value) >= 20 and mixed))


class NoKeyring(RuntimeError):
    pass


def _keyring():
    import keyring

    backend = keyring.get_keyring()
    if not os.environ.get("PYTHON_KEYRING_BACKEND") and type(backend).__module__.startswith(NOT_A_KEYRING):
        raise NoKeyring(type(backend).__name__)
    return backend


def get_key(name: str) -> str | None:
    """The key stored under ``name``; None when there is none or this machine has no keyring."""
    try:
        return _keyring().get_password(SERVICE, name)
    except Exception:  # noqa: BLE001 - no keyring backend on this machine is normal (headless Linux)
        return None


def _no_keyring(name: str, exc: Exception) -> ConfigError:
    return ConfigError(
        f"This machine has no keyring to keep {name} in ({type(exc).__name__})",
        f"Export it where the app and its jobs start instead (`export {name}=...` before `streamlit run app.py` or "
        "`slmops worker`), or name a keyring backend in PYTHON_KEYRING_BACKEND (a desktop session has one already; "
        "a backend that keeps keys in a plain file is never chosen by default).",
    )


def store_key(name: str, value: str) -> None:
    """Keep ``value`` in the keyring under ``name``; ConfigError when there is no keyring."""
    if looks_like_a_key(name) or not name.replace("_", "").isalnum():
        raise ConfigError("That is not a variable name", "Give the name the key is kept under, e.g. OPENAI_API_KEY.")
    if not value.strip():
        raise ConfigError(f"No key given for {name}", "Paste the key itself; it is kept in the keyring only.")
    try:
        _keyring().set_password(SERVICE, name, value.strip())
    except Exception as exc:  # noqa: BLE001 - every backend failure becomes the same plain message
        raise _no_keyring(name, exc) from exc


def delete_key(name: str) -> bool:
    """Forget the key kept under ``name``; False when none was kept."""
    try:
        _keyring().delete_password(SERVICE, name)
        return True
    except Exception:  # noqa: BLE001 - nothing kept, or no keyring: nothing to forget either way
        return False
