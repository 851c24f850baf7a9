"""What this host is: CPU and ISA features, cores, memory, accelerators, and each backend's devices.

Every reader takes a filesystem ``root`` so tests can probe a simulated host (a folder holding
``proc/cpuinfo``, ``dev/accel/accel0``, ...). Only :func:`probe_backends` imports runtimes.
"""

from __future__ import annotations

import os
import platform
import re
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

#: cpuinfo flag -> edgevid feature name (x86 ``flags`` and Arm ``Features`` lines)
FLAG_NAMES = {
    "avx2": "avx2", "fma": "fma", "avx512f": "avx512f", "avx512_vnni": "avx512_vnni", "avx512_bf16": "avx512_bf16",
    "avx512_fp16": "avx512_fp16", "avx_vnni": "avx_vnni", "amx_tile": "amx", "amx_int8": "amx_int8",
    "amx_bf16": "amx_bf16", "asimd": "neon", "neon": "neon", "asimddp": "dotprod", "i8mm": "i8mm",
    "asimdhp": "fp16", "sve": "sve", "sve2": "sve2", "bf16": "bf16",
}
#: accelerator name -> (glob under root, what it is)
ACCELERATORS = {
    "intel-npu": ("dev/accel/accel*", "Intel NPU (intel_vpu driver)"),
    "edgetpu-pcie": ("dev/apex_*", "Google Coral EdgeTPU (PCIe/M.2, gasket driver)"),
    "jetson": ("etc/nv_tegra_release", "NVIDIA Jetson (L4T)"),
    "nvidia-gpu": ("dev/nvidia[0-9]*", "NVIDIA GPU"),
    "gpu-render": ("dev/dri/renderD*", "GPU render node (DRM)"),
    "hailo": ("dev/hailo*", "Hailo-8/8L"),
    "rockchip-npu": ("dev/rknpu*", "Rockchip NPU"),
    "imx-npu": ("dev/galcore", "VeriSilicon NPU/GPU (NXP i.MX 8M Plus)"),
    "qualcomm-dsp": ("dev/fastrpc-cdsp*", "Qualcomm Hexagon DSP"),
}
# The Coral USB accelerator shows up only as a USB id (1a6e:089a before firmware load, 18d1:9302 after).
_CORAL_USB = {("1a6e", "089a"), ("18d1", "9302")}


@dataclass
class Cpu:
    """The CPU as cpuinfo and the kernel describe it."""

    arch: str
    vendor: str = ""
    model: str = ""
    features: list[str] = field(default_factory=list)
    cores: int = 1
    board: str = ""
    #: hardware threads per physical core (2 with Hyper-Threading/SMT)
    smt: int = 1
    #: x86 ``cpu family/model`` numbers, e.g. ``26/2``: the model name alone ("AMD EPYC") does not tell a Zen 4
    #: from a Zen 5, and int8's speed-up over float differs between them
    family: str = ""

    @property
    def name(self) -> str:
        """Vendor and model name, as reports print them."""
        return f"{self.vendor} {self.model}".strip()


@dataclass
class Host:
    """A probed (or simulated) host: what selection and ``edgevid devices`` work from."""

    cpu: Cpu
    memory_mb: int | None = None
    accelerators: dict[str, str] = field(default_factory=dict)
    #: backend name -> {"version": str|None, "devices": [..], "available": bool}
    backends: dict[str, dict[str, Any]] = field(default_factory=dict)
    governor: str | None = None

    def has(self, feature: str) -> bool:
        """True if the CPU has ISA ``feature`` (edgevid name, e.g. ``avx512_vnni``, ``dotprod``)."""
        return feature in self.cpu.features

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def _read(root: Path, rel: str) -> str:
    try:
        return (root / rel).read_text(errors="replace")
    except OSError:
        return ""


def parse_cpuinfo(text: str, arch: str) -> Cpu:
    """A :class:`Cpu` from ``/proc/cpuinfo`` text, for x86 (``flags``) and Arm (``Features``, ``CPU part``)."""
    fields: dict[str, str] = {}
    processors = 0
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key == "processor" and value.strip().isdigit():
            processors += 1
        fields.setdefault(key, value.strip())
    flags = (fields.get("flags") or fields.get("features") or "").split()
    features = sorted({FLAG_NAMES[f] for f in flags if f in FLAG_NAMES})
    vendor = fields.get("vendor_id") or fields.get("cpu implementer", "")
    model = fields.get("model name") or fields.get("hardware") or fields.get("cpu part", "")
    family = f"{fields['cpu family']}/{fields.get('model', '')}" if fields.get("cpu family") else ""
    return Cpu(arch=arch, vendor=vendor, model=model, features=features, cores=max(processors, 1),
               board=fields.get("model", "") if not fields.get("model name") else "", family=family)


def _cgroup_cores(root: Path) -> float | None:
    quota = _read(root, "sys/fs/cgroup/cpu.max").split()
    if len(quota) == 2 and quota[0] != "max":
        return int(quota[0]) / int(quota[1])
    return None


def _memory_mb(root: Path) -> int | None:
    m = re.search(r"MemTotal:\s+(\d+)\s+kB", _read(root, "proc/meminfo"))
    total = int(m.group(1)) // 1024 if m else None
    limit = _read(root, "sys/fs/cgroup/memory.max").strip()
    if limit.isdigit():
        total = min(total or 1 << 40, int(limit) // (1 << 20))
    return total


def _usb_coral(root: Path) -> bool:
    for dev in (root / "sys/bus/usb/devices").glob("*"):
        ids = (_read(dev, "idVendor").strip(), _read(dev, "idProduct").strip())
        if ids in _CORAL_USB:
            return True
    return False


def probe_accelerators(root: Path) -> dict[str, str]:
    """Accelerators whose device nodes or release files exist under ``root``."""
    found = {name: what for name, (pattern, what) in ACCELERATORS.items() if any(root.glob(pattern))}
    if _usb_coral(root):
        found["edgetpu-usb"] = "Google Coral USB Accelerator"
    return found


def probe_cpu(root: Path, arch: str | None = None) -> Cpu:
    """CPU facts under ``root``; cores honour the affinity mask and a cgroup quota on the real host."""
    cpu = parse_cpuinfo(_read(root, "proc/cpuinfo"), arch or platform.machine())
    board = _read(root, "proc/device-tree/model").strip("\x00\n ")
    if board:
        cpu.board = board
    if root == Path("/"):
        cpu.cores = len(os.sched_getaffinity(0))
    siblings = _read(root, "sys/devices/system/cpu/cpu0/topology/thread_siblings_list").strip()
    if siblings:
        cpu.smt = sum(int(b) - int(a) + 1 for a, _, b in (part.partition("-") for part in siblings.split(","))
                      if a.isdigit() and (b or a).isdigit()) if "-" in siblings else len(siblings.split(","))
    quota = _cgroup_cores(root)
    if quota:
        cpu.cores = max(1, min(cpu.cores, int(quota)))
    return cpu


def probe_backends(registry=None) -> dict[str, dict[str, Any]]:
    """Each registered backend's availability, version and devices (imports the installed runtimes)."""
    from ..registry import get_registry

    reg = registry or get_registry()
    out = {}
    for name, cls in sorted(reg.backends.items()):
        info: dict[str, Any] = {"available": cls.available(), "version": cls.version(), "devices": [],
                                "formats": sorted(cls.formats)}
        if info["available"]:
            try:
                info["devices"] = cls.devices()
            except Exception as exc:  # a broken runtime install is reported, not fatal
                info["error"] = str(exc).splitlines()[0][:200]
        out[name] = info
    return out


def probe(root: str | Path = "/", arch: str | None = None, backends: bool = True, registry=None) -> Host:
    """Probe the host at ``root`` (``/``: this machine)."""
    root = Path(root)
    governor = _read(root, "sys/devices/system/cpu/cpu0/cpufreq/scaling_governor").strip() or None
    return Host(cpu=probe_cpu(root, arch), memory_mb=_memory_mb(root), accelerators=probe_accelerators(root),
                backends=probe_backends(registry) if backends else {}, governor=governor)


@lru_cache(maxsize=1)
def this_host() -> Host:
    """This machine, probed once per process."""
    return probe("/")
