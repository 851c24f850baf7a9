"""Host metadata recorded with every bench result, so numbers are never read without their context."""

from __future__ import annotations

import os
import platform
import sys
from importlib.metadata import PackageNotFoundError, version

PACKAGES = ("edgevid", "numpy", "opencv-python-headless", "onnxruntime", "openvino", "ai-edge-litert",
            "tflite-runtime")


def metadata(threads: int | None) -> dict:
    """CPU, governor, load average, thread settings and library versions."""
    from ..devices.probe import this_host

    host = this_host()
    versions = {}
    for pkg in PACKAGES:
        try:
            versions[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    load1, load5, _ = os.getloadavg()
    cores = host.cpu.cores
    return {
        "cpu": host.cpu.name, "arch": host.cpu.arch, "cpu_family": host.cpu.family,
        "isa": host.cpu.features,
        "cores": cores, "memory_mb": host.memory_mb, "governor": host.governor,
        "loadavg": [round(load1, 2), round(load5, 2)],
        # other work on the machine skews latency: flag it rather than hide it
        "busy": load1 > max(0.5, cores - (threads or cores) + 0.5),
        "threads": threads, "python": platform.python_version(), "platform": sys.platform,
        "node": platform.node(), "versions": versions,
    }
