"""TFLite to ONNX with tf2onnx, for the MediaPipe models, verified against the source on real feeds.

Plain tf2onnx fails on two of them, and both are fixed here rather than worked around:

* ``pose_detection.tflite`` stores its 1x1 convolution weights as *sparse* fp16 tensors that a
  ``DENSIFY`` op expands at load time; tf2onnx reads every constant buffer as dense and fails with
  "cannot reshape array of size 96 into shape (16,1,1,24)". :func:`prepare` lets LiteRT's own
  reference kernel densify them (XNNPACK off: it densifies inside the delegate and never writes the
  op's output), stores the dense values and drops the ``DENSIFY`` ops.
* selfie segmentation ends in MediaPipe's custom op ``Convolution2DTransposeBias``, whose options are a
  raw ``TfLiteTransposeConvParams`` struct rather than a flexbuffer. :func:`prepare` re-encodes them as
  a flexbuffer map so tf2onnx reads them as attributes, and :class:`_register` adds a handler that
  lowers the op to TensorFlow's ``Conv2DBackpropInput`` plus ``BiasAdd`` (ONNX ``ConvTranspose`` plus
  ``Add``). The same file also needs opset 14 for ``HardSwish``.

Conversion runs in a fresh process (tf2onnx, like OpenVINO, names nodes from a process-wide counter,
and TensorFlow is too heavy to import into the caller).
"""

from __future__ import annotations

import os
import struct
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from .workers import in_fresh_process

#: ONNX opset written: 14 is the first with HardSwish (selfie segmentation, pose detector).
OPSET = 14
#: Every output element of the converted model must lie within this fraction of its output's largest
#: magnitude (at least 1) of the source's, on every verification feed. Two runtimes reading the *same*
#: file disagree by 2.2e-4 of that (LiteRT vs OpenVINO f32, BlazePose landmark's mask logits, up to 1653);
#: measured after conversion: pose detector 3.6e-6, selfie segmentation 1.9e-4, pose landmark 1.1e-3. On
#: some person crops LiteRT's XNNPACK kernels stray further from the op definitions than that (1.6e-2 on
#: those mask logits, against its own reference kernels): :func:`verify` then asks the reference kernels.
TOLERANCE = 2e-3
#: Why a conversion's bytes can differ between runs (the manifest records it): constants are renamed and
#: ordered here, but tf2onnx's graph optimizer visits nodes in an order that changes between processes,
#: and one run in a few leaves a redundant Reshape in selfie segmentation that another folds away.
REPRODUCIBLE = ("same graph and outputs; the bytes can differ between runs by a redundant Reshape that "
                "tf2onnx's optimizer folds in some runs only")
CUSTOM_OP = "Convolution2DTransposeBias"
_DENSIFY = 124  # tflite BuiltinOperator.DENSIFY
_PADDING = {1: "SAME", 2: "VALID"}  # TfLitePadding


class ConversionError(Exception):
    """tf2onnx could not convert the model, or the result does not match its source."""


def _densify(model: Any, raw: bytes) -> int:
    """Replace each ``DENSIFY`` op's output by a constant holding its dense value; returns how many."""
    from tensorflow.lite.python import schema_py_generated as fb

    from .litert import builtin_interpreter

    graph = model.subgraphs[0]
    ops = [op for op in graph.operators if model.operatorCodes[op.opcodeIndex].builtinCode == _DENSIFY]
    if not ops:
        return 0
    it = builtin_interpreter(raw, keep_tensors=True)
    for d in it.get_input_details():
        it.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
    it.invoke()
    for op in ops:
        sparse, dense = op.inputs[0], op.outputs[0]
        buf = fb.BufferT()
        buf.data = np.frombuffer(it.get_tensor(dense).tobytes(), np.uint8)
        model.buffers.append(buf)
        graph.tensors[dense].buffer = len(model.buffers) - 1
        graph.tensors[sparse].buffer = 0  # the sparse original is now unused: no constant to parse
        graph.tensors[sparse].sparsity = None
    graph.operators = [op for op in graph.operators if op not in ops]
    return len(ops)


def _custom_options(model: Any) -> int:
    """Re-encode MediaPipe's raw ``Convolution2DTransposeBias`` options as a flexbuffer map; returns how many."""
    from flatbuffers import flexbuffers

    n = 0
    for op in model.subgraphs[0].operators:
        if model.operatorCodes[op.opcodeIndex].customCode == CUSTOM_OP.encode():
            padding, stride_w, stride_h = struct.unpack("<3i", bytes(op.customOptions)[:12])
            op.customOptions = np.frombuffer(flexbuffers.Dumps(
                {"padding": _PADDING[padding], "stride_w": stride_w, "stride_h": stride_h}), np.uint8)
            op.customOptionsFormat = 0  # FLEXBUFFERS
            n += 1
    return n


def prepare(src: Path) -> tuple[bytes, dict[str, int]]:
    """``src`` rewritten so tf2onnx can read it: sparse constants densified, custom options as flexbuffers.
    Returns the model bytes and what was changed."""
    from tensorflow.lite.tools import flatbuffer_utils

    raw = src.read_bytes()
    model = flatbuffer_utils.read_model_from_bytearray(bytearray(raw))
    fixes = {"densified_tensors": _densify(model, raw), "custom_ops_reencoded": _custom_options(model)}
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model)), fixes


def _register() -> None:
    """Teach tf2onnx MediaPipe's ``Convolution2DTransposeBias``: a transposed convolution, then a bias."""
    from tf2onnx import utils
    from tf2onnx.handler import tfl_op

    @tfl_op([f"TFL_{CUSTOM_OP}"], tf_op="Conv2DBackpropInput")
    class _ConvTransposeBias:
        @classmethod
        def to_tf(cls, ctx, node, **kwargs):
            x, weights, bias = node.input
            # Conv2DBackpropInput takes (output shape, filter, input); the output shape is static here
            out_shape = ctx.make_const(utils.make_name(f"{node.name}_shape"),
                                       np.array(ctx.get_shape(node.output[0]), np.int32))
            ctx.replace_inputs(node, [out_shape.output[0], weights, x])
            # tflite keeps transposed-conv filters OHWI; TensorFlow wants HWOI
            t = ctx.insert_new_node_on_input(node, "Transpose", node.input[1], perm=[1, 2, 0, 3])
            t.skip_conversion = True
            node.set_attr("strides", [1, node.get_attr_int("stride_h"), node.get_attr_int("stride_w"), 1])
            del node.attr["stride_h"], node.attr["stride_w"]
            node.set_attr("padding", node.get_attr_value("padding"))
            node.set_attr("data_format", "NHWC")
            ctx.insert_new_node_on_output("BiasAdd", node.output[0], name=utils.make_name(f"{node.name}_bias"),
                                          inputs=[node.output[0], bias], data_format="NHWC")


def _quiet() -> None:
    """Silence TensorFlow's start-up chatter in this (throwaway) worker: absl writes it to fd 2 directly."""
    import warnings

    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    warnings.filterwarnings("ignore")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)


def _canonical_constants(model) -> None:
    """Name each constant after its first consumer and store them in that order.

    tf2onnx numbers folded constants (``const_fold_opt__550``) and emits them in an order that changes
    from run to run, while the nodes do not: without this the same conversion never gives the same
    bytes twice."""
    graph = model.graph
    consts = {t.name: t for t in graph.initializer}
    names: dict[str, str] = {}
    for node in graph.node:
        for i, inp in enumerate(node.input):
            if inp in consts and inp not in names:
                names[inp] = f"{node.name}/const{i}"
    for node in graph.node:
        for i, inp in enumerate(node.input):
            if inp in names:
                node.input[i] = names[inp]
    ordered = []
    for old, new in names.items():
        consts[old].name = new
        ordered.append(consts[old])
    del graph.initializer[:]
    graph.initializer.extend(ordered)


def _convert(src: str, out: str) -> dict[str, Any]:
    _quiet()
    import logging

    import onnx

    logging.getLogger("tf2onnx").setLevel(logging.ERROR)
    import tf2onnx

    _register()
    data, fixes = prepare(Path(src))
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / Path(src).name
        prepared.write_bytes(data)
        model, _ = tf2onnx.convert.from_tflite(str(prepared), opset=OPSET)
    # from_tflite continues past ops it cannot convert and leaves them in the graph: refuse those here
    known = {s.name for s in onnx.defs.get_all_schemas()}
    left = sorted({n.op_type for n in model.graph.node if n.domain not in ("", "ai.onnx") or n.op_type not in known})
    if left:
        raise ConversionError(f"tf2onnx left ops it could not convert: {', '.join(left)}")
    onnx.checker.check_model(model)
    _canonical_constants(model)
    onnx.save(model, out)
    return {"tool": f"tf2onnx {tf2onnx.__version__} (from_tflite, opset {OPSET})", "fixes": fixes,
            "reproducible": REPRODUCIBLE}


def convert(src: Path, out: Path) -> dict[str, Any]:
    """Write ``out`` (.onnx) from the TFLite file ``src``; returns the recipe (which says how reproducible the
    bytes are: :data:`REPRODUCIBLE`)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        return in_fresh_process(_convert, str(src), str(out))
    except ConversionError:
        raise
    except Exception as exc:  # noqa: BLE001 - any tf2onnx failure is reported as one line
        raise ConversionError(f"tf2onnx cannot convert {src.name}: {str(exc).splitlines()[0][:200]}") from exc


def _outputs(session, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    return list(session.run(feeds).values())


def _aligned(got: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """``got`` in ``ref``'s layout: the same, NHWC where ``ref`` is NCHW (onnx2tf), or only reshaped."""
    if got.shape != ref.shape and got.ndim == 4 and got.transpose(0, 3, 1, 2).shape == ref.shape:
        return got.transpose(0, 3, 1, 2)
    return got.reshape(ref.shape)


def verify(source, converted, feeds: list[dict[str, np.ndarray]], tolerance: float = TOLERANCE,
           pairs=None, referee=None) -> dict[str, Any]:
    """Compare two loaded models (``source`` and ``converted``) output by output on real ``feeds``.

    ``pairs`` turns a feed into (source input, converted input) pairs where the two take different forms
    (a fixed-size NHWC conversion); outputs are matched by order (the converters keep it). ``referee``, a
    zero-argument callable giving the source on exact kernels (:func:`on_reference_kernels`), judges a
    feed the conversion misses: XNNPACK's float kernels can themselves stray from an op's definition by
    more than the tolerance on an ill-conditioned output, and the conversion is not at fault for that.
    Raises :class:`ConversionError` when any element is off by more than ``tolerance`` x max(1, |largest
    output|) from the source, and from the referee when there is one.
    """
    worst, count, refereed, spread, judge = 0.0, 0, 0, 0.0, None
    try:
        for f in feeds:
            for a, b in (pairs or (lambda x: [(x, x)]))(next(iter(f.values()))):
                count += 1
                ref = _outputs(source, {source.input_name: a})
                got = _outputs(converted, {converted.input_name: b})
                if [r.size for r in ref] != [g.size for g in got]:
                    raise ConversionError(f"converted outputs {[g.shape for g in got]} differ from the source's "
                                          f"{[r.shape for r in ref]}")
                err = _relative_error(ref, got)
                if err > tolerance and referee is not None:
                    judge = judge or referee()
                    exact = _outputs(judge, {judge.input_name: a})
                    refereed += 1
                    spread = max(spread, _relative_error(exact, ref))
                    err = _relative_error(exact, got)
                worst = max(worst, err)
    finally:
        if judge is not None:
            judge.close()
    if worst > tolerance:
        raise ConversionError(f"converted model differs from its source by {worst:.2e} (tolerance {tolerance:.0e})")
    out = {"feeds": count, "max_relative_error": float(f"{worst:.3g}"), "tolerance": tolerance}
    if refereed:
        out["refereed"] = {"feeds": refereed, "judged_by": "the source on LiteRT's reference kernels",
                           "xnnpack_vs_reference_kernels": float(f"{spread:.3g}")}
    return out


def _relative_error(ref: list[np.ndarray], got: list[np.ndarray]) -> float:
    """The largest element difference of any output, over that output's largest magnitude (at least 1)."""
    return max(float(np.abs(r - _aligned(g, r)).max() / max(1.0, float(np.abs(r).max()))) for r, g in zip(ref, got))


def on_reference_kernels(model):
    """A loaded ``.tflite`` model again, on LiteRT's reference kernels (no XNNPACK): each op as TFLite defines
    it, which a faithful conversion matches (BlazePose landmark's mask logits: XNNPACK strays 1.6e-2 from
    them on some crops, its tf2onnx conversion on ONNX Runtime 2.7e-4)."""
    from .scoring import load_at_f32

    return load_at_f32(model.card, model.variant, "tflite", options={"kernels": "reference"})
