"""Short-lived caches for facts that are slow-ish to gather and change slowly (never for database rows)."""

from __future__ import annotations

import streamlit as st

from slmops_engine import hub
from slmops_engine.sysinfo import SystemInfo, system_info


@st.cache_data(ttl=15, show_spinner=False)
def machine() -> SystemInfo:
    """CPU, memory, disk and GPUs of this machine (nvidia-smi is asked at most every 15 s)."""
    return system_info()


@st.cache_data(ttl=60, show_spinner=False)
def cached_locally(model_id: str) -> bool:
    """True when the hub model is already in the local Hugging Face cache (no network)."""
    return hub.local_snapshot(model_id) is not None
