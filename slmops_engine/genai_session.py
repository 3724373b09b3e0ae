"""The CPU session settings an ONNX model carries in its genai_config.json: chosen for the machine that runs it,
by the conversion (where it is built) and again by the deployment (where it is served)."""

from __future__ import annotations


def cpu_threads() -> int:
    """Physical cores: onnxruntime left to itself ran decoding on one thread on a 2-core machine."""
    import os

    import psutil

    return psutil.cpu_count(logical=False) or os.cpu_count() or 1


def session_options() -> dict:
    """The CPU session settings a converted or deployed model carries: as many threads as this machine has
    cores, which do not spin while they wait. bench/decode_under_load.py measured the candidates on 2 cores with
    the bundled int4 model, idle and beside a busy PyTorch process (a fine-tune next to a chat): spinning threads
    209 tok/s idle but 77 busy; one thread (onnxruntime's own choice) 144 and 94; non-spinning threads 162 and
    120, the best worst case."""
    return {"intra_op_num_threads": cpu_threads(), "session.intra_op.allow_spinning": "0"}


THREAD_SETTINGS = ("intra_op_num_threads", "session.intra_op.allow_spinning")


def apply_session_options(genai: dict, options: dict | None = None) -> dict:
    """``genai`` (a genai_config.json's content) with its thread settings replaced by ``options`` (default: this
    machine's, ``session_options()``); returns them."""
    options = session_options() if options is None else options
    session = genai["model"]["decoder"].setdefault("session_options", {})
    for key in THREAD_SETTINGS:
        session.pop(key, None)
    session.update(options)
    return options
