"""int8 with NNCF, for OpenVINO (an int8 IR) and for ONNX Runtime (a QDQ ONNX model): post-training
quantization, then ``quantize_with_accuracy_control`` when the plain result falls below the floor.

The accuracy NNCF controls is the task's own metric: its validation function runs the whole task on
held-out frames with this model swapped in, on the backend that will run it, against the fp32 reference
results. The job runs in a fresh process (``workers.in_fresh_process``) so its bytes are reproducible.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from .workers import in_fresh_process


#: Depthwise convolutions stay float: their int8 kernels are memory-bound and slower than bf16 on AVX-512
#: CPUs (PP-OCRv4 rec: 8.8 ms int8 vs 5.2 ms bf16 per inference, OpenVINO's performance counters), and the
#: Reorder nodes between int8 and float layers cost more than 8 bits save on small models.
FLOAT_TYPES = ("GroupConvolution",)

#: Models whose depthwise convolutions are quantized too, because that measured faster at the floor. PP-OCRv4
#: det on a Zen 5 EPYC (AVX-512 VNNI): 1.90-1.93x bf16 at 0.9957 of fp32, against 1.42-1.49x at 1.000 with
#: them float (``benchmarks/int8_speedup.py``); PP-OCRv4 rec was slower so (1.20x against 1.25x).
DEPTHWISE_INT8 = frozenset({"ppocrv4-det"})


def float_types(model_id: str) -> tuple[str, ...]:
    """The layer types model ``model_id`` keeps float in its int8 IR (:data:`FLOAT_TYPES`, :data:`DEPTHWISE_INT8`)."""
    return () if model_id in DEPTHWISE_INT8 else FLOAT_TYPES


class NoInt8(Exception):
    """Accuracy control had to revert every quantized layer: there is no int8 model that meets the floor."""


def _op_types(model, backend: str) -> list[str]:
    if backend == "openvino":
        return [op.get_type_name() for op in model.get_ops()]
    return [n.op_type for n in model.graph.node]


def _model_type(model, backend: str) -> str | None:
    """NNCF's TRANSFORMER type for attention models (it keeps their sensitive ops float); None for CNNs."""
    return "TRANSFORMER" if {"Softmax", "MatMul"} <= set(_op_types(model, backend)) else None


def _quantizers(model, backend: str) -> int:
    """The quantizers NNCF left: OpenVINO's FakeQuantize ops (weights and activations), or an ONNX model's
    QuantizeLinear nodes (activations only: NNCF stores ONNX weights as int8 initializers)."""
    kind = "FakeQuantize" if backend == "openvino" else "QuantizeLinear"
    return sum(t == kind for t in _op_types(model, backend))


class _Validator:
    """NNCF validation function: the task's agreement with the fp32 reference, overall and per frame, with the
    candidate run on ``job["backend"]`` (OpenVINO passes a compiled model, the ONNX backend a ModelProto)."""

    def __init__(self, job: dict[str, Any], scratch: Path) -> None:
        from .scoring import float_models

        self.job = job
        self.scratch = scratch
        # NNCF validates dozens of times; the task's other models are loaded once, not per call
        self.others = float_models(job["task"], job["role"], job["options"])

    def _session(self, model):
        if self.job["backend"] == "openvino":
            from edgevid.backends.openvino import OpenVinoSession

            return OpenVinoSession(model, Path(self.job["src"]), "CPU", [])
        import onnx
        from edgevid.backends.onnxruntime import OnnxRuntimeBackend

        path = self.scratch / "candidate.onnx"
        onnx.save(model, str(path))
        return OnnxRuntimeBackend.load(path)

    def __call__(self, model, indices) -> tuple[float, list[float]]:
        from edgevid.bench.accuracy import agreement

        from .scoring import run_each, task_with

        job = self.job
        # not closed: the other models are reused, and the model under test belongs to NNCF
        task = task_with(job["task"], job["role"], self._session(model), job["options"], self.others)
        indices = list(indices)
        results = run_each(task, [job["heldout"][i] for i in indices])
        refs = [job["reference"][i] for i in indices]
        per_frame = [agreement([r], [o]) for r, o in zip(refs, results)]
        return agreement(refs, results), per_frame


def _load(job: dict[str, Any]):
    if job["backend"] == "openvino":
        import openvino as ov

        return ov.convert_model(job["src"])
    import onnx

    return onnx.load(job["src"])


def _runnable(model, backend: str):
    """What the validator takes: OpenVINO's model compiled at f32, or the ONNX model itself."""
    if backend != "openvino":
        return model
    import openvino as ov

    return ov.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})


def _save(model, job: dict[str, Any]) -> None:
    if job["backend"] == "openvino":
        import openvino as ov

        ov.save_model(model, job["out"])  # float constants NNCF left (reverted ops) go fp16, as for fp16
    else:
        import onnx

        onnx.save(model, job["out"])


def _job(job: dict[str, Any]) -> dict[str, Any]:
    import sys
    import tempfile

    # This job never needs torch, but NNCF's backend probe imports it when installed (the `train` extra),
    # which takes seconds.
    sys.modules.setdefault("torch", None)
    import nncf

    logging.getLogger("nncf").setLevel(logging.WARNING)
    backend = job["backend"]
    model = _load(job)
    feeds = job["calibration"]
    if backend == "openvino":
        name = next(iter(feeds[0]))
        calib = nncf.Dataset(feeds, lambda f: f[name])
    else:
        calib = nncf.Dataset(feeds)  # keyed by the model's own input names (``ort_int8.rekey``)
    kind = _model_type(model, backend)
    params = {"subset_size": len(feeds), "model_type": nncf.ModelType[kind] if kind else None}
    if job["float_types"]:
        present = set(_op_types(model, backend)) & set(job["float_types"])
        if present:
            params["ignored_scope"] = nncf.IgnoredScope(types=sorted(present))
    advanced = None
    if job["seven_bit_weights"]:
        from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters, OverflowFix

        advanced = AdvancedQuantizationParameters(overflow_fix=OverflowFix.ENABLE)
    with tempfile.TemporaryDirectory() as scratch:
        validate = _Validator(job, Path(scratch))
        q = nncf.quantize(model, calib, **params, advanced_parameters=advanced)
        plain, _ = validate(_runnable(q, backend), range(len(job["heldout"])))
        recipe = {"tool": f"nncf.quantize {nncf.__version__}", "preset": "performance", "model_type": kind,
                  "float_types": sorted(params["ignored_scope"].types) if "ignored_scope" in params else [],
                  "calibration_frames": len(feeds), "fake_quantize_nodes": _quantizers(q, backend),
                  "seven_bit_weights": job["seven_bit_weights"],
                  "accuracy_search": [{"method": "quantize", "accuracy": round(plain, 4)}]}
        if plain < job["floor"]:
            # reverts the ops whose quantization costs the most metric, until the drop is within max_drop
            from nncf.quantization.advanced_parameters import AdvancedAccuracyRestorerParameters

            q = nncf.quantize_with_accuracy_control(
                model, calib, nncf.Dataset(list(range(len(job["heldout"])))), validate,
                max_drop=1.0 - job["floor"], drop_type=nncf.DropType.ABSOLUTE, **params,
                advanced_quantization_parameters=advanced,
                # No cap on the revert rounds: NNCF stops at the floor or when every group has been tried, and a
                # step back is always followed by a step forward, so the rounds stay under twice the groups.
                # The segmenters need 67-102 rounds (2-7 min on 2 cores); a cap of 24 left them, and the pose
                # landmark model, below the floor.
                advanced_accuracy_restorer_parameters=AdvancedAccuracyRestorerParameters(num_ranking_workers=1))
            controlled, _ = validate(_runnable(q, backend), range(len(job["heldout"])))
            left = _quantizers(q, backend)
            recipe["tool"] += " + quantize_with_accuracy_control"
            recipe["accuracy_search"].append({"method": "quantize_with_accuracy_control",
                                              "accuracy": round(controlled, 4), "fake_quantize_nodes": left})
            if left == 0:
                raise NoInt8(f"plain int8 scored {plain:.4f} and accuracy control reverted every quantized layer "
                             f"to reach {controlled:.4f}: no int8 model meets the floor")
            recipe["kept_float_fake_quantize"] = recipe["fake_quantize_nodes"] - left
            recipe["fake_quantize_nodes"] = left
    _save(q, job)
    return recipe


def quantize(task: str, role: str, src: Path, out: Path, calibration: list[dict[str, np.ndarray]],
             heldout: list[np.ndarray], reference: list, floor: float, options: dict,
             float_types: tuple[str, ...] = FLOAT_TYPES, backend: str = "openvino",
             seven_bit_weights: bool = False) -> dict[str, Any]:
    """Write NNCF's int8 model of ``src`` to ``out``: an IR for ``backend="openvino"``, a QDQ ONNX model for
    ``"onnxruntime"``, validated on that backend. Returns the recipe (method, model type, search).

    Layers of ``float_types`` (op types of that backend's graph) stay float (see :data:`FLOAT_TYPES`).
    ``seven_bit_weights`` keeps weights to 7 bits (NNCF's overflow fix), for runtimes whose int8 sums
    saturate on this CPU (``ort_int8.saturates``)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    job = {"task": task, "role": role, "src": str(src), "out": str(out), "calibration": calibration,
           "heldout": heldout, "reference": reference, "floor": floor, "options": options,
           "float_types": tuple(float_types), "backend": backend, "seven_bit_weights": seven_bit_weights}
    return in_fresh_process(_job, job)
