"""How long a conversion will take and how much memory it will hold, before it starts: the newest finished
conversion with the same settings on this machine, scaled by the source model's size; without one, the laptop's
measurement of the bundled SmolLM2-135M, scaled the same way."""

from __future__ import annotations

from ..jobs.estimates import LAPTOP, Estimate, newest, peak_of, took
from .config import ConvertConfig

REFERENCE_PARAMS = 134.5e6
# bench/estimates.py on 2 cores, the bundled model, no quick check: the build, the verification and the
# measurements; the quick check adds about CHECK_ROW_SECONDS a row (it answers each row twice: fp32 and the build).
LAPTOP_SECONDS = {"fp32": 12.0, "int8": 12.0, "int4": 12.0}
LAPTOP_PEAK_BYTES = int(1.65e9)
RUNTIME_BYTES = int(0.4e9)  # the worker with its libraries loaded, before any model (a tiny model's whole peak)
CHECK_ROW_SECONDS = 0.5
# Settings that change the work; the source, the name and the chosen adapters do not (the size scales them).
_IGNORED = {"variant_id", "adapter_ids", "output_name", "verify_prompt", "check_dataset_id"}


def _params(variant_id: int | None) -> float | None:
    from ..db import session_scope
    from ..errors import SlmopsError
    from ..model_folder import inspect_model_folder
    from ..models import ModelVariant

    with session_scope() as s:
        v = s.get(ModelVariant, variant_id) if variant_id else None
    try:
        return float(inspect_model_folder(v.artifact_path).n_params) if v else None
    except SlmopsError:
        return None


def _settings(config: dict) -> dict:
    return {k: v for k, v in config.items() if k not in _IGNORED} | {
        "checked": config.get("check_dataset_id") is not None,
        "adapters": bool(config.get("adapter_ids")),
    }


def estimate(cfg: ConvertConfig) -> Estimate | None:
    params = _params(cfg.variant_id)
    if params is None:
        return None
    mine = _settings(cfg.model_dump(mode="json"))
    job = newest("convert", lambda j: _settings(j.config) == mine)
    if job is not None:
        scale = params / (_params(job.config.get("variant_id")) or params)
        peak = peak_of(job)
        peak = int(RUNTIME_BYTES + (peak - RUNTIME_BYTES) * scale) if peak else None
        return Estimate(took(job) * scale, f"from run #{job.id} on this machine", peak)
    scale = params / REFERENCE_PARAMS
    check = CHECK_ROW_SECONDS * cfg.check_rows if cfg.check_dataset_id is not None else 0.0
    seconds = (LAPTOP_SECONDS.get(cfg.precision, 12.0) + check) * scale
    return Estimate(seconds, LAPTOP, int(RUNTIME_BYTES + (LAPTOP_PEAK_BYTES - RUNTIME_BYTES) * scale))
