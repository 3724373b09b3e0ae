"""What this machine has: CPU, RAM, disk and GPUs (via nvidia-smi, so the UI never needs to import torch)."""

from __future__ import annotations

import platform
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from .settings import get_settings

GiB = 1024**3


@dataclass
class GpuInfo:
    name: str
    memory_total: int
    memory_free: int


@dataclass
class SystemInfo:
    cpu_count: int
    cpu_model: str
    ram_total: int
    ram_available: int
    disk_total: int
    disk_free: int
    gpus: list[GpuInfo] = field(default_factory=list)

    @property
    def has_cuda(self) -> bool:
        return bool(self.gpus)

    @property
    def train_memory_budget(self) -> int:
        """Memory a training job can use: the largest GPU's free memory, else available RAM."""
        return max((g.memory_free for g in self.gpus), default=self.ram_available)


def detect_gpus(timeout: float = 5.0) -> list[GpuInfo]:
    exe = shutil.which("nvidia-smi")
    if not exe:
        return []
    try:
        out = subprocess.run(
            [exe, "--query-gpu=name,memory.total,memory.free", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        ).stdout
    except (subprocess.SubprocessError, OSError):
        return []
    gpus = []
    for line in out.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
            gpus.append(GpuInfo(parts[0], int(parts[1]) * 1024**2, int(parts[2]) * 1024**2))
    return gpus


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def system_info() -> SystemInfo:
    vm = psutil.virtual_memory()
    home = get_settings().home
    du = shutil.disk_usage(home)
    return SystemInfo(
        cpu_count=psutil.cpu_count(logical=True) or 1,
        cpu_model=_cpu_model(),
        ram_total=vm.total,
        ram_available=vm.available,
        disk_total=du.total,
        disk_free=du.free,
        gpus=detect_gpus(),
    )


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit in ("B", "KB") else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def human_duration(seconds: float | None, compact: bool = False) -> str:
    """'45 s', '3 min 20 s', '2 h 05 min' (compact, for a narrow figure: '3m 20s', '2h 05m'); empty when unknown."""
    if seconds is None or seconds < 0:
        return ""
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    m, h = ("m", "h") if compact else (" min", " h")
    sec = "s" if compact else " s"
    if s < 3600:
        return f"{s // 60}{m} {s % 60:02d}{sec}"
    return f"{s // 3600}{h} {(s % 3600) // 60:02d}{m}"


def process_peak_rss(pid: int | None) -> int | None:
    """Peak resident memory of another process on this machine (Linux VmHWM), None when unknown."""
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return None
