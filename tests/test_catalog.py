"""Student catalog, memory estimates, model folders and the hub guard."""

from __future__ import annotations

import shutil
import socket
import time

import pytest

from slmops_engine.catalog import CATALOG, estimate_for, estimate_memory, find_model, fit, fit_report
from slmops_engine.errors import HubUnreachableError, ModelLoadError
from slmops_engine.hub import hub_reachable, resolve_hub_model
from slmops_engine.model_folder import inspect_model_folder
from slmops_engine.students import StudentChoice, resolve_student
from slmops_engine.sysinfo import GiB, GpuInfo, SystemInfo

REQUIRED = {
    "HuggingFaceTB/SmolLM2-135M-Instruct",
    "HuggingFaceTB/SmolLM2-360M-Instruct",
    "HuggingFaceTB/SmolLM2-1.7B-Instruct",
    "Qwen/Qwen2.5-0.5B-Instruct",
    "Qwen/Qwen2.5-1.5B-Instruct",
    "meta-llama/Llama-3.2-1B-Instruct",
    "microsoft/Phi-3.5-mini-instruct",
    "microsoft/Phi-4-mini-instruct",
}


def _system(ram_gb: float, gpu_gb: float | None = None) -> SystemInfo:
    gpus = [GpuInfo("GPU", int(gpu_gb * GiB), int(gpu_gb * GiB))] if gpu_gb else []
    return SystemInfo(2, "cpu", int(ram_gb * GiB), int(ram_gb * GiB), 100 * GiB, 50 * GiB, gpus)


def test_catalog_has_the_promised_models_with_facts():
    assert {m.id for m in CATALOG} >= REQUIRED
    for m in CATALOG:
        assert m.params_b > 0 and m.context_length >= 2048 and m.license


def test_estimates_grow_with_model_size_and_order_by_method():
    small, big = (
        estimate_for(find_model("HuggingFaceTB/SmolLM2-135M-Instruct")),
        estimate_for(find_model("microsoft/Phi-4-mini-instruct")),
    )
    for k in ("full", "lora", "qlora", "int4_inference"):
        assert getattr(big, k) > getattr(small, k)
    assert small.full > small.lora > small.int4_inference
    # Calibration point: SmolLM2-135M LoRA on CPU measured ~4.2 GB resident.
    assert 3 * GiB < small.lora < 6 * GiB
    longer = estimate_memory(135e6, 30, 576, 49152, seq_len=2048)
    assert longer.lora > small.lora


def test_fit_colours_against_this_machine():
    assert fit(1 * GiB, 10 * GiB) == "green"
    assert fit(8 * GiB, 10 * GiB) == "amber"
    assert fit(12 * GiB, 10 * GiB) == "red"
    est = estimate_for(find_model("HuggingFaceTB/SmolLM2-135M-Instruct"))
    cpu = fit_report(est, _system(24))
    assert cpu["lora"] == "green" and cpu["qlora"] == "red"  # QLoRA needs a CUDA GPU
    gpu = fit_report(estimate_for(find_model("HuggingFaceTB/SmolLM2-135M-Instruct"), gpu=True), _system(24, 80))
    assert gpu["qlora"] == "green"
    assert fit_report(estimate_for(find_model("microsoft/Phi-4-mini-instruct")), _system(8))["full"] == "red"


def test_model_folder_inspection(tiny_model_dir, tmp_path):
    info = inspect_model_folder(tiny_model_dir)
    assert info.model_type == "llama" and info.n_layers == 2 and info.has_chat_template
    assert info.tokenizer_vocab_size == info.vocab_size
    assert 10_000 < info.n_params < 200_000
    no_tok = tmp_path / "no-tokenizer"
    shutil.copytree(tiny_model_dir, no_tok)
    (no_tok / "tokenizer.json").unlink()
    with pytest.raises(ModelLoadError, match="no tokenizer files"):
        inspect_model_folder(no_tok)
    with pytest.raises(ModelLoadError, match="No folder"):
        inspect_model_folder(tmp_path / "missing")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "config.json").write_text("{oops")
    with pytest.raises(ModelLoadError, match="not valid JSON"):
        inspect_model_folder(tmp_path / "junk")


def test_hub_model_offline_gives_clear_message_not_a_hang(monkeypatch):
    from huggingface_hub import snapshot_download  # noqa: F401 - imported before the clock starts (seconds, cold)

    looked_up: list[str] = []  # every host name anything tried to reach: offline, nothing may try

    def no_network(host, *args, **kwargs):
        looked_up.append(host)
        raise OSError("no network in this test")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    t0 = time.monotonic()
    with pytest.raises(HubUnreachableError) as err:
        resolve_student(StudentChoice(source="catalog", model_id="Qwen/Qwen2.5-0.5B-Instruct"))
    assert looked_up == []  # answered from the offline setting, without waiting on any network timeout
    assert time.monotonic() - t0 < 30
    assert "cannot be reached" in err.value.message
    assert "model folder on this machine" in err.value.hint and "bundled" in err.value.hint


def test_unreachable_hub_endpoint_fails_within_timeout(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    from huggingface_hub import snapshot_download  # noqa: F401 - imported before the clock starts (seconds, cold)

    t0 = time.monotonic()
    ok, reason = hub_reachable(timeout=2)
    assert not ok and f"127.0.0.1:{port}" in reason
    with pytest.raises(HubUnreachableError):
        resolve_hub_model("HuggingFaceTB/SmolLM2-360M-Instruct", timeout=2)
    # refused at once (milliseconds): the bound catches a hang, not a slow machine
    assert time.monotonic() - t0 < 30


def test_local_and_unprepared_bundled_students(tiny_model_dir):
    assert resolve_student(StudentChoice(source="local", path=str(tiny_model_dir))) == tiny_model_dir.resolve()
    with pytest.raises(ModelLoadError, match="not prepared"):
        resolve_student(StudentChoice(source="bundled"))
    with pytest.raises(ValueError, match="model_id"):
        StudentChoice(source="catalog")
