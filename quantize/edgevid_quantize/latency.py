"""Latency of a compressed model against its fp32 teacher, same run, on ONNX Runtime and OpenVINO."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np


def _runner(backend: str, path: Path, x: np.ndarray):
    """A no-argument callable running ``path`` once on ``x`` with 2 threads on ``backend``."""
    if backend == "onnxruntime":
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 2
        # two sessions live side by side here: spinning threads of the idle one slowed the other 3x
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        feed = {sess.get_inputs()[0].name: x}
        return lambda: sess.run(None, feed)
    import openvino as ov

    request = ov.Core().compile_model(str(path), "CPU", {"INFERENCE_NUM_THREADS": 2,
                                                         "PERFORMANCE_HINT": "LATENCY"}).create_infer_request()
    return lambda: request.infer({0: x})


def latency_ratio(fp32: Path, candidate: Path, x: np.ndarray, runs: int = 200,
                  backends: tuple[str, ...] = ("onnxruntime", "openvino")) -> dict[str, Any]:
    """Median latency of ``candidate`` and ``fp32`` on each of ``backends`` (2 threads each).

    The two run interleaved, one call each in turn (order swapped every call), so load from other work on
    this shared machine falls on both alike. A measurement for the manifest and the benchmark, never a
    pass/fail test.
    """
    out = {}
    for backend in backends:
        runs_ = {"fp32": _runner(backend, fp32, x[:1]), "candidate": _runner(backend, candidate, x[:1])}
        times: dict[str, list[float]] = {k: [] for k in runs_}
        for f in runs_.values():
            for _ in range(10):
                f()
        for i in range(runs):
            for k in (("fp32", "candidate") if i % 2 else ("candidate", "fp32")):
                t = time.perf_counter()
                runs_[k]()
                times[k].append(time.perf_counter() - t)
        med = {k: float(np.median(v)) * 1e3 for k, v in times.items()}
        out[backend] = {"fp32_ms": round(med["fp32"], 3), "ms": round(med["candidate"], 3),
                        "speedup": round(med["fp32"] / med["candidate"], 3)}
    return out
