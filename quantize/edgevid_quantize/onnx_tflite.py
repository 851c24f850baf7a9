"""ONNX to TFLite with onnx2tf, and TFLite full-integer int8 with a representative dataset.

TFLite targets (Arm boards, Coral, phones) run ``.tflite`` only, and TFLite's integer path needs a
TensorFlow graph, which neither an ONNX model nor a MediaPipe ``.tflite`` has: onnx2tf writes one
(a SavedModel), from which the fp32 ``.tflite`` and the int8 one are made.

* The input size is fixed first (the size the task feeds most), and the graph simplified with onnxsim,
  so every tensor has a concrete shape. onnx2tf's own ``overwrite_input_shape`` is applied only by
  running the ``onnxsim`` executable; when that is not on ``PATH`` it silently keeps the dynamic
  shape and the result fails at prepare, so it is not relied on.
* onnx2tf checks its conversion on a sample file it otherwise downloads from GitHub; the sample is
  written from the task's own calibration frames instead (the build contacts no host).
* The result is NHWC in and out, fixed size, batch 1. Tasks ask the session for the form of its input
  (:func:`edgevid.vision.image.input_form`), so the same task runs either.
"""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

#: onnx2tf's check looks for this file in the working directory before it tries to download one
_SAMPLE = "calibration_image_sample_data_20x128x128x3_float32.npy"


def static_shape(src: Path, feeds: list[dict[str, np.ndarray]]) -> list[int]:
    """The input shape a fixed-size conversion of ``src`` takes: its own where fixed (MediaPipe's), else the
    task's most common feed at batch 1."""
    import onnx

    dims = [d.dim_value if d.HasField("dim_value") else 0
            for d in onnx.load(str(src), load_external_data=False).graph.input[0].type.tensor_type.shape.dim]
    if all(dims):
        return [1, *dims[1:]]
    shapes = Counter(tuple(next(iter(f.values())).shape[1:]) for f in feeds)
    return [1, *shapes.most_common(1)[0][0]]


def channels_last(shape: list[int]) -> bool:
    """Whether an image input of ``shape`` is NHWC (tf2onnx's conversions of MediaPipe models keep it)."""
    return shape[-1] == 3 and shape[1] != 3


def _rank0_scalars(model):
    """Shape-(1,) constants of Add/Mul/Sub/Div rewritten as scalars (identical broadcasting): onnx2tf wraps
    each op with a (1,) operand in a transpose pair (53 of them in PP-OCRv4 det), and none around a scalar."""
    import onnx
    from onnx import numpy_helper

    users: dict[str, set[str]] = {}
    for n in model.graph.node:
        for i in n.input:
            users.setdefault(i, set()).add(n.op_type)
    arithmetic = {"Add", "Mul", "Sub", "Div"}
    for n in model.graph.node:
        if n.op_type == "Constant" and users.get(n.output[0], {"-"}) <= arithmetic:
            t = n.attribute[0].t
            a = numpy_helper.to_array(t)
            if a.shape == (1,):
                t.CopyFrom(numpy_helper.from_array(a.reshape(()), t.name))
    for t in model.graph.initializer:
        if tuple(t.dims) == (1,) and users.get(t.name, {"-"}) <= arithmetic:
            t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t).reshape(()), t.name))
    del model.graph.value_info[:]
    return onnx.shape_inference.infer_shapes(model, strict_mode=True)


def fixed_onnx(src: Path, dst: Path, shape: list[int]) -> Path:
    """``src`` with its first input fixed to ``shape``, shapes inferred and simplified (onnxsim), node names
    made valid TensorFlow scope names."""
    import re

    import onnx
    import onnxsim

    model = onnx.load(str(src))
    dims = model.graph.input[0].type.tensor_type.shape.dim
    for d, n in zip(dims, shape):
        d.Clear()
        d.dim_value = int(n)
    for out in model.graph.output:  # re-inferred from the fixed input
        for d in out.type.tensor_type.shape.dim:
            d.Clear()
    del model.graph.value_info[:]
    model = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    model, ok = onnxsim.simplify(model)
    if not ok:
        raise RuntimeError(f"onnxsim could not check the simplified {src.name}")
    model = _rank0_scalars(model)
    for node in model.graph.node:
        # onnx2tf names each TF op after its node: Paddle's exports have names like "Softmax@0", which
        # TensorFlow rejects as a scope
        node.name = re.sub(r"[^A-Za-z0-9_.\\/>-]", "_", node.name)
    onnx.checker.check_model(model)
    dst.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(dst))
    return dst


def _input_name(path: Path) -> str:
    import onnx

    return onnx.load(str(path), load_external_data=False).graph.input[0].name


def _sample(images: list[np.ndarray]) -> np.ndarray:
    """onnx2tf's check sample (20 RGB images, 128x128, 0..1) from real BGR frames."""
    import cv2

    picks = [images[i % len(images)] for i in range(20)]
    return np.stack([cv2.resize(im, (128, 128), interpolation=cv2.INTER_AREA)[..., ::-1] for im in picks]).astype(np.float32) / 255


def convert(src: Path, work: Path, shape: list[int], frames: list[np.ndarray]) -> dict[str, Any]:
    """onnx2tf on ``src`` fixed to ``shape``, in ``work``: writes ``work/saved_model`` and the fp32 ``.tflite``.
    An NHWC input (a tf2onnx conversion) is kept NHWC. Runs in a fresh process (it changes directory and
    TensorFlow's global state)."""
    import shutil
    import time

    import onnx2tf

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    fixed = fixed_onnx(src, work / f"{src.stem}.onnx", shape)
    np.save(work / _SAMPLE, _sample(frames))
    here = os.getcwd()
    os.chdir(work)
    t0 = time.perf_counter()
    try:
        # onnx2tf takes a 4-D input as NCHW and transposes it unless told it is NHWC already
        keep = {"keep_nwc_or_nhwc_or_ndhwc_input_names": [_input_name(fixed)]} if channels_last(shape) else {}
        # TensorFlow prints the SavedModel's whole signature whatever the verbosity: it goes to a log file
        with open(work / "onnx2tf.log", "w") as log, contextlib.redirect_stdout(log):
            onnx2tf.convert(input_onnx_file_path=str(fixed), output_folder_path=str(work / "saved_model"),
                            not_use_onnxsim=True, verbosity="error", **keep)
    finally:
        os.chdir(here)
    tflite = work / "saved_model" / f"{src.stem}_float32.tflite"
    if not tflite.is_file():
        raise RuntimeError(f"onnx2tf wrote no {tflite.name}")
    return {"tflite": str(tflite), "saved_model": str(work / "saved_model"), "input_shape": shape,
            "seconds": round(time.perf_counter() - t0, 1)}


def nhwc(feed: np.ndarray, shape: list[int], lines: bool = False) -> list[np.ndarray]:
    """A feed (NCHW, or NHWC where ``shape`` is) as batch-1 NHWC samples of the fixed ``shape``: a narrower
    line crop is padded right with zeros, as the recogniser's own batches are; with ``lines`` (a model that
    reads text lines, padded right) a wider one is cut into the overlapping windows the task reads it in;
    any other size is stretched."""
    import cv2

    from edgevid.vision import lines as line_windows

    h, w, c = shape[1:] if channels_last(shape) else (shape[2], shape[3], shape[1])
    if lines and feed.shape[1 if channels_last(shape) else 2] == h:
        axis = 2 if channels_last(shape) else 3
        feed = np.concatenate([line_windows.windows(np.moveaxis(x, axis - 1, -1), w) for x in feed])
        feed = np.moveaxis(feed, -1, axis)
    out = []
    for x in feed:
        if not channels_last(shape):
            x = x.transpose(1, 2, 0)
        if x.shape[0] == h and x.shape[1] <= w:
            x = np.pad(x, ((0, 0), (0, w - x.shape[1]), (0, 0)))
        elif x.shape[:2] != (h, w):
            x = cv2.resize(x, (w, h), interpolation=cv2.INTER_AREA)
        out.append(np.ascontiguousarray(x.reshape(1, h, w, c), np.float32))
    return out


def source_form(sample: np.ndarray, shape: list[int]) -> np.ndarray:
    """An NHWC sample from :func:`nhwc` in the layout of the ONNX model it came from."""
    return sample if channels_last(shape) else np.ascontiguousarray(sample.transpose(0, 3, 1, 2))


def _converter(saved_model: str, samples: list[np.ndarray], strict: bool):
    import warnings

    import tensorflow as tf

    # the debugger runs TensorFlow's own interpreter, which warns that LiteRT replaces it: not ours to act on
    warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")

    def representative():
        for s in samples:
            yield [s]

    conv = tf.lite.TFLiteConverter.from_saved_model(saved_model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    # integer kernels only when nothing is kept float (the converter then fails rather than fall back)
    conv.target_spec.supported_ops = ([tf.lite.OpsSet.TFLITE_BUILTINS_INT8] if strict
                                      else [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS])
    return conv


def _ranged_path(cache: Path, estimator: str) -> Path:
    """Where the calibrated model in ``estimator``'s measured ranges is kept, in ``cache``."""
    return cache / f"calibrated-{estimator}.tflite"


def quantize(saved_model: str, dst: Path, samples: list[np.ndarray], keep_float: list[str] = (),
             ranges: str = "calibrator", cache: Path | None = None) -> dict[str, Any]:
    """Full-integer int8 ``.tflite`` (per-channel weights, int8 activations calibrated on ``samples``, float
    I/O so tasks feed it as the fp32 model) from onnx2tf's SavedModel; ``keep_float`` nodes stay float.
    ``ranges`` names the activation range estimator (:mod:`.tflite_ranges`); measured ranges are kept in
    ``cache`` (a folder that lives as long as ``saved_model``), since every attempt of a search uses them."""
    import tensorflow as tf

    from . import tflite_ranges

    if ranges != "calibrator":
        if cache and _ranged_path(cache, ranges).is_file():
            model = _ranged_path(cache, ranges).read_bytes()
        else:
            # one run of the float model gives every estimator's ranges; the others are kept for later trials
            calibrated = tflite_ranges.calibrated(_converter(saved_model, samples, strict=True))
            measured = tflite_ranges.measure(calibrated, samples,
                                             tflite_ranges.ESTIMATORS[1:] if cache else (ranges,))
            models = {e: tflite_ranges.with_ranges(calibrated, found) for e, found in measured.items()}
            if cache:
                for e, m in models.items():
                    _ranged_path(cache, e).write_bytes(m)
            model = models[ranges]
        data = tflite_ranges.quantize(model, keep_float)
    elif keep_float:
        debugger = tf.lite.experimental.QuantizationDebugger(
            converter=_converter(saved_model, samples, strict=False), debug_dataset=lambda: iter([samples[:1]]),
            debug_options=tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=list(keep_float)))
        data = debugger.get_nondebug_quantized_model()
    else:
        data = _converter(saved_model, samples, strict=True).convert()
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(data)
    how = "tf.lite.TFLiteConverter" if ranges == "calibrator" else "TFLiteConverter's calibration + mlir_quantize"
    return {"tool": f"onnx2tf SavedModel + {how} (full integer, per-channel, {len(samples)} representative samples)",
            "excluded_nodes": list(keep_float), "io": "float32",
            **tflite_ranges.recipe(ranges, len(samples))}


def sensitivity(saved_model: str, samples: list[np.ndarray]) -> list[tuple[str, float]]:
    """Quantized tensors ranked by their own int8 error in units of their quantization step (TFLite's
    QuantizationDebugger: RMSE / scale), worst first; a ratio well above 0.3 is more than rounding."""
    import csv
    import io

    import tensorflow as tf

    debugger = tf.lite.experimental.QuantizationDebugger(
        converter=_converter(saved_model, samples, strict=False), debug_dataset=lambda: iter([[s] for s in samples[:4]]))
    debugger.run()
    buf = io.StringIO()
    debugger.layer_statistics_dump(buf)
    buf.seek(0)
    ranked = []
    for row in csv.DictReader(buf):
        scale = float(row["scale"] or 0)
        if scale > 0:
            ranked.append((row["tensor_name"], float(np.sqrt(float(row["mean_squared_error"])) / scale)))
    return sorted(ranked, key=lambda r: -r[1])
