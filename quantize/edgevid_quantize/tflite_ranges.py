"""Activation ranges for LiteRT's full-integer int8, measured on the float model itself.

LiteRT's calibrator (TensorFlow 2.21) logs each op's inputs *after* the op has run. Its MUL and ADD may
write their result into an input's buffer, so that input is recorded with the range of the op's output:
in PP-OCRv4's recogniser a hard-swish output that spans -0.375..32 is calibrated to -1.3..107, and 36 of
its 244 activation ranges are off that way (15 of 143 in BlazePose's landmark model). Here the
calibration statistics are taken again from a run of the calibrated float model that keeps every tensor,
with one of NNCF's range estimators (per-sample statistics, averaged over the samples), and written into
the model before LiteRT's own quantizer (``mlir_quantize``) makes it integer.

* ``calibrator``: LiteRT's own ranges, as its converter uses them.
* ``mean_minmax``: the mean of each sample's minimum and maximum (NNCF's default for activations).
* ``mean_quantile``: the mean of each sample's 1e-4 and 1 - 1e-4 quantiles (NNCF's ``MEAN_QUANTILE``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .litert import builtin_interpreter

#: the range estimators tried, in order (the build keeps the first that meets the floor, else the best)
ESTIMATORS = ("calibrator", "mean_minmax", "mean_quantile")
#: the share of values ``mean_quantile`` leaves outside the range at each end (NNCF's default)
OUTLIER = 1e-4


def calibrated(converter) -> bytes:
    """The float model with LiteRT's calibration statistics (per-tensor min and max), not yet quantized.

    ``_experimental_calibrate_only`` is the converter's own split of calibration from quantization, the one
    its QuantizationDebugger uses."""
    converter._experimental_calibrate_only = True
    return converter.convert()


def _ranged_tensors(model) -> list[int]:
    """Indices of the tensors the calibrator gave a range (the activations; weights have none)."""
    return [i for i, t in enumerate(model.subgraphs[0].tensors)
            if t.quantization is not None and t.quantization.min is not None and len(t.quantization.min) == 1]


def measure(model: bytes, samples: list[np.ndarray],
            estimators: tuple[str, ...] = ESTIMATORS[1:]) -> dict[str, dict[int, tuple[float, float]]]:
    """Each activation's range by each of ``estimators``, from one run of the calibrated float ``model`` over
    ``samples``."""
    unknown = [e for e in estimators if e not in ESTIMATORS[1:]]
    if unknown:
        raise ValueError(f"no range estimator {unknown[0]!r} to measure (known: {', '.join(ESTIMATORS[1:])})")
    from tensorflow.lite.tools import flatbuffer_utils

    tensors = _ranged_tensors(flatbuffer_utils.convert_bytearray_to_object(bytearray(model)))
    it = builtin_interpreter(model, keep_tensors=True)
    feed = it.get_input_details()[0]["index"]
    # per tensor: min, max, and the low and high quantiles, sample by sample (the last axis, averaged)
    stats = np.empty((len(tensors), 4, len(samples)))
    for n, s in enumerate(samples):
        it.set_tensor(feed, s)
        it.invoke()
        for k, i in enumerate(tensors):
            a = it.get_tensor(i).ravel()
            stats[k, :2, n] = a.min(), a.max()
            if "mean_quantile" in estimators:
                stats[k, 2:, n] = np.quantile(a, (OUTLIER, 1 - OUTLIER))
    mean = stats.mean(axis=-1)
    cols = {"mean_minmax": (0, 1), "mean_quantile": (2, 3)}
    return {e: {i: (float(mean[k, cols[e][0]]), float(mean[k, cols[e][1]])) for k, i in enumerate(tensors)}
            for e in estimators}


def with_ranges(model: bytes, ranges: dict[int, tuple[float, float]]) -> bytes:
    """``model`` with the calibration range of each tensor in ``ranges`` replaced."""
    from tensorflow.lite.tools import flatbuffer_utils

    obj = flatbuffer_utils.convert_bytearray_to_object(bytearray(model))
    tensors = obj.subgraphs[0].tensors
    for i, (lo, hi) in ranges.items():
        tensors[i].quantization.min = [lo]
        tensors[i].quantization.max = [hi]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(obj))


def quantize(model: bytes, keep_float: list[str] = ()) -> bytes:
    """LiteRT's quantizer on a calibrated ``model``: per-channel int8 weights, int8 activations in the ranges
    the model holds, float I/O; ``keep_float`` nodes stay float. Without any, a model that is not integer
    throughout is refused (as the converter's ``TFLITE_BUILTINS_INT8`` does)."""
    import tensorflow as tf
    from tensorflow.lite.python.convert import mlir_quantize

    out = mlir_quantize(model, input_data_type=tf.float32, output_data_type=tf.float32,
                        denylisted_nodes=list(keep_float) or None)
    left = float_ops(out)
    if left and not keep_float:
        raise ValueError(f"LiteRT's quantizer left {len(left)} ops float: {', '.join(sorted(set(left)))}")
    return out


def float_ops(model: bytes) -> list[str]:
    """The ops of ``model`` that compute in float, other than the output's DEQUANTIZE."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    obj = flatbuffer_utils.convert_bytearray_to_object(bytearray(model))
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    g = obj.subgraphs[0]
    out = []
    for op in g.operators:
        code = obj.operatorCodes[op.opcodeIndex]
        name = names.get(max(code.builtinCode, code.deprecatedBuiltinCode), "CUSTOM")
        if name != "DEQUANTIZE" and any(g.tensors[t].type == schema.TensorType.FLOAT32 for t in op.outputs):
            out.append(name)
    return out


def recipe(estimator: str, samples: int) -> dict[str, Any]:
    """What the manifest records of the ranges an int8 model was quantized in."""
    how = {"calibrator": "LiteRT's calibrator (per-tensor min and max)",
           "mean_minmax": "the float model's per-sample min and max, averaged (NNCF's MEAN_MINMAX)",
           "mean_quantile": f"the float model's per-sample {OUTLIER:g} quantiles, averaged (NNCF's MEAN_QUANTILE)"}
    return {"range_estimator": estimator, "ranges": how[estimator], "range_samples": samples}
