"""OpenVINO backend: CPU, GPU and NPU plugins and AUTO; reads ``.onnx``, ``.tflite`` and IR directly.

OpenVINO's CPU plugin silently runs bf16 on CPUs with AVX-512 BF16 or AMX. That is faster and
changes the numerics, so the session reports the precision the compiled model actually uses.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DeviceUnavailableError
from ..hookspecs import hookimpl
from .base import Backend, LoadOptions, Session, TensorSpec, guess_layout, translate_errors

#: edgevid precision names -> OpenVINO INFERENCE_PRECISION_HINT values
_HINTS = {"f32": "f32", "fp32": "f32", "bf16": "bf16", "f16": "f16", "fp16": "f16"}
# Layer types whose runtime precision says whether the heavy maths run in int8.
_COMPUTE = {"Convolution", "GroupConvolution", "Deconvolution", "FullyConnected", "MatMul"}
_core = None
_core_lock = threading.Lock()


def core():
    """The process-wide ``openvino.Core`` (creating one per model wastes memory and plugin loads)."""
    global _core
    with _core_lock:
        if _core is None:
            import openvino as ov

            _core = ov.Core()
        return _core


def _spec(port, index: int, prefix: str) -> TensorSpec:
    names = port.get_names()
    name = port.get_any_name() if names else f"{prefix}{index}"
    shape = tuple(d.get_length() if d.is_static else None for d in port.get_partial_shape())
    return TensorSpec(name, shape, str(port.get_element_type().to_dtype()), guess_layout(shape))


def _execution_precision(compiled, device: str) -> str:
    """The precision the compiled model computes in: int8 when quantized layers run in i8/u8."""
    try:
        hint = compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()
    except RuntimeError:
        # AUTO/MULTI do not expose the hint: ask the device the model actually landed on.
        target = compiled.get_property("EXECUTION_DEVICES")[0].split(".")[0]
        try:
            hint = core().get_property(target, "INFERENCE_PRECISION_HINT").get_type_name()
        except RuntimeError:
            hint = "unknown"
    for op in compiled.get_runtime_model().get_ordered_ops():
        info = op.get_rt_info()
        if "layerType" in info and info["layerType"].astype(str) in _COMPUTE:
            if info["runtimePrecision"].astype(str) in ("i8", "u8"):
                return "int8"
    return hint


class OpenVinoSession(Session):
    """A compiled model; each calling thread gets its own infer request, so ``run`` is thread-safe.

    ``compiled`` is public so the bench can drive asynchronous infer requests itself.
    """

    backend = "openvino"

    def __init__(self, compiled, path: Path, device: str, notes: list[str]) -> None:
        self.compiled = compiled
        self.path = path
        self.device = device
        self.inputs = [_spec(p, i, "input") for i, p in enumerate(compiled.inputs)]
        self.outputs = [_spec(p, i, "output") for i, p in enumerate(compiled.outputs)]
        self._names = [o.name for o in self.outputs]
        self.precision = _execution_precision(compiled, device)
        self.notes = notes
        self.execution_devices = list(compiled.get_property("EXECUTION_DEVICES"))
        try:
            self.threads = int(compiled.get_property("INFERENCE_NUM_THREADS"))
        except RuntimeError:
            self.threads = None
        self._local = threading.local()

    def _request(self):
        req = getattr(self._local, "request", None)
        if req is None:
            req = self._local.request = self.compiled.create_infer_request()
        return req

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run one synchronous inference on this thread's infer request."""
        with translate_errors(self.backend, self.path, "run"):
            # share_inputs: the request reads the caller's arrays in place for this synchronous call
            values = self._request().infer({k: np.ascontiguousarray(v) for k, v in feeds.items()}, share_inputs=True)
            return dict(zip(self._names, values.to_tuple()))

    def info(self) -> dict[str, Any]:
        """Backend, device, precision and threads, plus the devices AUTO resolved to."""
        return {**super().info(), "execution_devices": self.execution_devices}

    def close(self) -> None:
        """Release the compiled model and its requests."""
        self._local = threading.local()
        self.compiled = None


class OpenVinoBackend(Backend):
    """OpenVINO Runtime. Precision hints map to ``INFERENCE_PRECISION_HINT``; threads to ``INFERENCE_NUM_THREADS``."""

    name = "openvino"
    module = "openvino"
    distributions = ("openvino",)
    extra = "openvino"
    formats = frozenset({"onnx", "tflite", "openvino"})

    @classmethod
    def devices(cls) -> list[str]:
        """OpenVINO's ``available_devices`` plus ``AUTO``."""
        return list(core().available_devices) + ["AUTO"]

    @classmethod
    def precisions(cls, device: str) -> list[str | None]:
        """The device's default precision, plus ``f32`` when the default is lower (bf16 on AMX/AVX-512 BF16)."""
        if device == "AUTO":
            return [None]
        default = core().get_property(device, "INFERENCE_PRECISION_HINT").get_type_name()
        return [None] if default == "f32" else [None, "f32"]

    @classmethod
    def load(cls, path: str | Path, options: LoadOptions | None = None) -> OpenVinoSession:
        """Compile ``path`` for ``options.device``; compiled blobs are cached under ``options.cache_dir``."""
        opts = options or LoadOptions()
        device = opts.device.upper()
        base = device.split(":", 1)[-1].split(",")[0] if device.startswith(("AUTO:", "MULTI:", "HETERO:")) else device
        available = cls.devices()
        if base.split(".")[0] not in {d.split(".")[0] for d in available}:
            raise DeviceUnavailableError(f"openvino has no device {opts.device!r} here (devices: {', '.join(available)})")
        config: dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY"}
        notes: list[str] = []
        if opts.precision:
            if opts.precision not in _HINTS:
                notes.append(f"unknown precision hint {opts.precision!r} ignored")
            else:
                config["INFERENCE_PRECISION_HINT"] = _HINTS[opts.precision]
        if device == "CPU":
            # Pinned workers share cores with the pipeline's decode/pre/post threads and the caller;
            # on a 2-core host that made latency bimodal (3.4 or 4.8 ms per process for BlazePose
            # detection) against a steady 3.1-3.7 ms unpinned. Users can turn it back on in options.
            config["ENABLE_CPU_PINNING"] = False
        if opts.threads and device == "CPU":
            config["INFERENCE_NUM_THREADS"] = int(opts.threads)
        elif opts.threads:
            notes.append(f"thread count applies to CPU only; {device} chooses its own")
        if opts.cache_dir and device != "CPU":
            # Compiling for GPU/NPU takes seconds; the cache makes the second start fast.
            # (CPU caching of small models costs more in disk I/O than it saves.)
            Path(opts.cache_dir).mkdir(parents=True, exist_ok=True)
            config["CACHE_DIR"] = str(opts.cache_dir)
        config.update({k: v for k, v in opts.options.items() if k.isupper()})
        with translate_errors(cls.name, path, "load"):
            compiled = core().compile_model(str(path), device, config)
        return OpenVinoSession(compiled, Path(path), device, notes)


@hookimpl
def register_backends(register):
    """Register the OpenVINO backend."""
    register(OpenVinoBackend)
