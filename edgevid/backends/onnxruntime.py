"""ONNX Runtime backend: the CPU execution provider, plus whatever providers the installed build has."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ..errors import DeviceUnavailableError
from ..hookspecs import hookimpl
from .base import Backend, LoadOptions, Session, TensorSpec, guess_layout, translate_errors

#: edgevid device name -> ONNX Runtime execution provider
PROVIDERS = {
    "CPU": "CPUExecutionProvider",
    "CUDA": "CUDAExecutionProvider",
    "TENSORRT": "TensorrtExecutionProvider",
    "OPENVINO": "OpenVINOExecutionProvider",
    "DML": "DmlExecutionProvider",
    "COREML": "CoreMLExecutionProvider",
    "QNN": "QNNExecutionProvider",
    "ROCM": "ROCMExecutionProvider",
    "XNNPACK": "XnnpackExecutionProvider",
    "NNAPI": "NnapiExecutionProvider",
}

#: ONNX tensor type string -> numpy dtype name
_DTYPES = {
    "tensor(float)": "float32", "tensor(float16)": "float16", "tensor(double)": "float64",
    "tensor(uint8)": "uint8", "tensor(int8)": "int8", "tensor(int32)": "int32", "tensor(int64)": "int64",
    "tensor(bool)": "bool", "tensor(bfloat16)": "bfloat16",
}

# Op types whose presence means the graph executes integer kernels; their names sit verbatim
# in the protobuf, so a byte scan finds them without importing onnx on the device.
_INT8_OPS = (b"QLinearConv", b"DequantizeLinear", b"MatMulInteger", b"ConvInteger", b"QLinearMatMul")


def _shape(dims) -> tuple[int | None, ...]:
    return tuple(d if isinstance(d, int) else None for d in dims)


def _specs(args) -> list[TensorSpec]:
    out = []
    for a in args:
        shape = _shape(a.shape)
        out.append(TensorSpec(a.name, shape, _DTYPES.get(a.type, a.type), guess_layout(shape)))
    return out


def _weights_precision(path: Path, inputs: list[TensorSpec]) -> str:
    """What ORT actually computes in: it never lowers precision itself, so the graph decides."""
    blob = path.read_bytes()
    if any(op in blob for op in _INT8_OPS):
        return "int8"
    if any(s.dtype == "float16" for s in inputs):
        return "f16"
    return "f32"


class OrtSession(Session):
    """An ``onnxruntime.InferenceSession``; ``run`` is thread-safe (ORT allows concurrent ``Run``)."""

    backend = "onnxruntime"

    def __init__(self, sess, path: Path, device: str, threads: int | None, notes: list[str]) -> None:
        self.sess = sess
        self.path = path
        self.device = device
        self.threads = threads
        self.inputs = _specs(sess.get_inputs())
        self.outputs = _specs(sess.get_outputs())
        self.precision = _weights_precision(path, self.inputs)
        self.providers = list(sess.get_providers())
        self.notes = notes
        self._names = [o.name for o in self.outputs]

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run one inference."""
        with translate_errors(self.backend, self.path, "run"):
            values = self.sess.run(self._names, dict(feeds))
        return dict(zip(self._names, values))

    def info(self) -> dict:
        """Backend, device, precision, threads, and the providers ORT actually bound."""
        return {**super().info(), "providers": self.providers}

    def close(self) -> None:
        """Drop the session (ORT frees it with the last reference)."""
        self.sess = None


class OnnxRuntimeBackend(Backend):
    """ONNX Runtime. Reads ``.onnx``; precision follows the graph (fp32, fp16 or QDQ int8)."""

    name = "onnxruntime"
    module = "onnxruntime"
    distributions = ("onnxruntime", "onnxruntime-gpu", "onnxruntime-openvino", "onnxruntime-directml",
                     "onnxruntime-qnn")
    extra = "onnxruntime"
    formats = frozenset({"onnx"})

    @classmethod
    def devices(cls) -> list[str]:
        """edgevid device names for the execution providers this build offers (Azure is skipped)."""
        import onnxruntime as ort

        have = set(ort.get_available_providers())
        return [dev for dev, prov in PROVIDERS.items() if prov in have]

    @classmethod
    def load(cls, path: str | Path, options: LoadOptions | None = None) -> OrtSession:
        """Create an ``InferenceSession`` on ``options.device`` with full graph optimisation."""
        import onnxruntime as ort

        opts = options or LoadOptions()
        device = opts.device.upper()
        if device not in PROVIDERS or PROVIDERS[device] not in ort.get_available_providers():
            raise DeviceUnavailableError(
                f"onnxruntime has no device {opts.device!r} here (devices: {', '.join(cls.devices())})")
        notes = []
        if opts.precision and opts.precision not in ("f32", "fp32"):
            # ORT has no execution-precision switch: choose an fp16/int8 *variant* instead.
            notes.append(f"precision hint {opts.precision!r} ignored: onnxruntime runs the graph's own precision")
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if opts.threads:
            so.intra_op_num_threads = int(opts.threads)
        # One graph at a time per session: inter-op threads only add contention on small devices.
        so.inter_op_num_threads = 1
        so.log_severity_level = 3
        for key, value in opts.options.items():
            if key.startswith("session."):
                so.add_session_config_entry(key, str(value))
        providers = [PROVIDERS[device]] + (["CPUExecutionProvider"] if device != "CPU" else [])
        with translate_errors(cls.name, path, "load"):
            sess = ort.InferenceSession(str(path), sess_options=so, providers=providers)
        return OrtSession(sess, Path(path), device, opts.threads, notes)


@hookimpl
def register_backends(register):
    """Register the ONNX Runtime backend."""
    register(OnnxRuntimeBackend)
