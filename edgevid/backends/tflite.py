"""TFLite/LiteRT backend: ``ai-edge-litert``'s interpreter, falling back to ``tflite-runtime``.

XNNPACK is the interpreter's default CPU delegate. External delegates (Coral EdgeTPU, the GPU
delegate) are used when their shared libraries are present; ``options["delegate"]`` names a
library path explicitly. ``options["kernels"] = "reference"`` runs LiteRT's reference kernels instead of
XNNPACK: slow, but each op computed as TFLite defines it (the toolchain settles conversion checks with it).
"""

from __future__ import annotations

import ctypes.util
import importlib
import importlib.util
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, DeviceUnavailableError, UnsupportedModelError
from ..hookspecs import hookimpl
from .base import Backend, LoadOptions, Session, TensorSpec, guess_layout, translate_errors

#: interpreter modules in order of preference
RUNTIMES = ("ai_edge_litert.interpreter", "tflite_runtime.interpreter")
#: device -> shared library names of its external delegate
DELEGATES = {
    "EDGETPU": ("libedgetpu.so.1", "libedgetpu.1.dylib", "edgetpu.dll"),
    "GPU": ("libtensorflowlite_gpu_delegate.so",),
    # NXP i.MX 8M Plus NPU through VeriSilicon's TIM-VX delegate (shipped in NXP's Yocto BSP)
    "NPU": ("libvx_delegate.so",),
    # Qualcomm Hexagon/HTP through the QNN TFLite delegate
    "QNN": ("libQnnTFLiteDelegate.so",),
}


def _runtime(preferred: str | None = None):
    """The first importable interpreter module (or ``preferred``: "ai_edge_litert"/"tflite_runtime")."""
    names = [m for m in RUNTIMES if preferred is None or m.startswith(preferred)]
    for name in names:
        if importlib.util.find_spec(name.split(".")[0]) is not None:
            return importlib.import_module(name)
    raise DeviceUnavailableError(f"no TFLite interpreter {preferred or ''} installed: pip install 'edgevid[tflite]'")


def find_delegate(device: str) -> str | None:
    """Path or soname of ``device``'s delegate library if the system has it, else ``None``."""
    env = os.environ.get(f"EDGEVID_{device}_DELEGATE")
    if env:
        return env if Path(env).exists() else None
    for lib in DELEGATES.get(device, ()):
        for folder in ("/usr/lib", "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/local/lib"):
            if (Path(folder) / lib).exists():
                return str(Path(folder) / lib)
        stem = lib.split(".")[0].removeprefix("lib")
        found = ctypes.util.find_library(stem)
        if found:
            return found
    return None


def _spec(detail: dict) -> TensorSpec:
    sig = detail.get("shape_signature")
    dims = sig if sig is not None and len(sig) else detail["shape"]
    shape = tuple(int(d) if d >= 0 else None for d in dims)
    return TensorSpec(detail["name"], shape, np.dtype(detail["dtype"]).name, guess_layout(shape))


def _precision(interp, inputs: list[dict]) -> str:
    """"int8" for a fully integer model, else "f32".

    Float in with quantized weights (dynamic range) still runs float kernels under XNNPACK, so the
    weights say nothing: the activations do. An integer model takes int8/uint8 input, or float input
    that goes straight into a QUANTIZE op (float I/O around an integer graph)."""
    if not inputs:
        return "f32"
    if np.dtype(inputs[0]["dtype"]) in (np.int8, np.uint8):
        return "int8"
    ops = interp._get_ops_details() if hasattr(interp, "_get_ops_details") else []
    first = inputs[0]["index"]
    return "int8" if any(o["op_name"] == "QUANTIZE" and first in o["inputs"] for o in ops) else "f32"


class TfliteSession(Session):
    """A TFLite interpreter. The interpreter is not thread-safe, so ``run`` holds a lock."""

    backend = "tflite"

    def __init__(self, interp, path: Path, device: str, threads: int | None, runtime: str, notes: list[str]) -> None:
        self.interp = interp
        self.path = path
        self.device = device
        self.threads = threads
        self.runtime = runtime
        self.notes = notes
        self._in = interp.get_input_details()
        self._out = interp.get_output_details()
        self.inputs = [_spec(d) for d in self._in]
        self.outputs = [_spec(d) for d in self._out]
        self.precision = _precision(interp, self._in)
        self._lock = threading.Lock()

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Set inputs (resizing dynamic ones), invoke, and copy the outputs out."""
        with self._lock, translate_errors(self.backend, self.path, "run"):
            resized = False
            for d in self._in:
                value = feeds[d["name"]]
                if tuple(value.shape) != tuple(d["shape"]):
                    self.interp.resize_tensor_input(d["index"], list(value.shape))
                    resized = True
            if resized:
                self.interp.allocate_tensors()
                self._in = self.interp.get_input_details()
                self._out = self.interp.get_output_details()
            for d in self._in:
                self.interp.set_tensor(d["index"], np.ascontiguousarray(feeds[d["name"]], dtype=d["dtype"]))
            self.interp.invoke()
            return {d["name"]: self.interp.get_tensor(d["index"]) for d in self._out}

    def info(self) -> dict[str, Any]:
        """Backend, device, precision, threads and which interpreter package runs it."""
        return {**super().info(), "runtime": self.runtime}

    def close(self) -> None:
        """Drop the interpreter."""
        self.interp = None


class TfliteBackend(Backend):
    """TFLite/LiteRT. Reads ``.tflite``; CPU through XNNPACK; EdgeTPU, GPU, i.MX NPU (VX) and QNN through delegates."""

    name = "tflite"
    module = "ai_edge_litert"
    distributions = ("ai-edge-litert", "tflite-runtime")
    extra = "tflite"
    formats = frozenset({"tflite"})

    @classmethod
    def available(cls) -> bool:
        """True when either ``ai_edge_litert`` or ``tflite_runtime`` is importable."""
        return any(importlib.util.find_spec(m.split(".")[0]) is not None for m in RUNTIMES)

    @classmethod
    def devices(cls) -> list[str]:
        """``CPU`` plus every device whose delegate library is installed."""
        return ["CPU"] + [dev for dev in DELEGATES if find_delegate(dev)]

    @classmethod
    def load(cls, path: str | Path, options: LoadOptions | None = None) -> TfliteSession:
        """Build an interpreter with ``threads`` XNNPACK threads, or on an external delegate."""
        opts = options or LoadOptions()
        device = opts.device.upper()
        mod = _runtime(opts.options.get("runtime"))
        notes: list[str] = []
        delegates = []
        if device != "CPU" or opts.options.get("delegate"):
            lib = opts.options.get("delegate") or find_delegate(device)
            if not lib:
                raise DeviceUnavailableError(
                    f"tflite has no device {opts.device!r} here: its delegate library is not installed")
            with translate_errors(cls.name, lib, "load"):
                delegates.append(mod.load_delegate(lib, dict(opts.options.get("delegate_options", {}))))
        if opts.precision and opts.precision not in ("f32", "fp32"):
            notes.append(f"precision hint {opts.precision!r} ignored: TFLite runs the model's own precision")
        kw = {}
        kernels = opts.options.get("kernels", "default")
        if kernels not in ("default", "reference"):
            # a misspelt choice would otherwise run XNNPACK while the caller believes it checks against the reference
            raise ConfigError(f"tflite option kernels={kernels!r}: expected \"default\" or \"reference\"")
        if kernels == "reference":
            kw["experimental_op_resolver_type"] = mod.OpResolverType.BUILTIN_REF
            notes.append("LiteRT reference kernels (no XNNPACK)")
        with translate_errors(cls.name, path, "load"):
            interp = mod.Interpreter(model_path=str(path), num_threads=opts.threads,
                                     experimental_delegates=delegates or None, **kw)
            interp.allocate_tensors()
        if not interp.get_input_details():
            raise UnsupportedModelError(f"{Path(path).name} has no inputs")
        return TfliteSession(interp, Path(path), device, opts.threads, mod.__name__.split(".")[0], notes)


@hookimpl
def register_backends(register):
    """Register the TFLite/LiteRT backend."""
    register(TfliteBackend)
