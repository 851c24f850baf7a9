"""Static int8 (QDQ, per-channel) for ONNX Runtime, calibrated on what the task really feeds the model.

Two traps are handled: per-channel QDQ needs opset >= 13 (PP-OCRv4's detector is opset 12, and
``DequantizeLinear`` has no ``axis`` before 13), and ``quant_pre_process``'s symbolic shape
inference does not finish on it, so it is retried without.
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

MIN_OPSET = 13
#: Operators quantized: None is ONNX Runtime's full list, so element-wise ops (hard-swish Mul, residual
#: Add) run as QLinear kernels too. Limiting it to Conv/MatMul/Gemm scored PP-OCRv4 det 0.994 instead of
#: 0.990 but ran 1.22x fp32 instead of 1.6x: every float op between int8 convolutions then needs a
#: DequantizeLinear and loses ONNX Runtime's NCHWc layout (its profiler: 8.6 ms of DequantizeLinear).
OP_TYPES: tuple[str, ...] | None = None


class _Feeds:
    """``CalibrationDataReader`` over captured feeds."""

    def __init__(self, feeds: list[dict[str, np.ndarray]]) -> None:
        self.feeds = feeds
        self.it = iter(feeds)

    def __iter__(self):
        return iter(self.feeds)

    def get_next(self):
        return next(self.it, None)

    def rewind(self) -> None:  # pragma: no cover - onnxruntime calls it only for some methods
        pass


def rekey(model: Path, feeds: list[dict[str, np.ndarray]]) -> list[dict[str, np.ndarray]]:
    """``feeds`` keyed by ``model``'s input names, in order: a model converted from TFLite may name its
    input differently from the source the feeds were captured from."""
    import onnx

    graph = onnx.load(str(model), load_external_data=False).graph
    consts = {i.name for i in graph.initializer}
    names = [i.name for i in graph.input if i.name not in consts]
    return [f if list(f) == names else dict(zip(names, f.values())) for f in feeds]


def upgrade_opset(src: Path, dst: Path) -> tuple[Path, int, int]:
    """Copy ``src`` to ``dst`` at opset >= 13; returns (path, old opset, new opset)."""
    import onnx
    from onnx import version_converter

    model = onnx.load(str(src))
    old = max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    if old < MIN_OPSET:
        model = version_converter.convert_version(model, MIN_OPSET)
    onnx.save(model, str(dst))
    return dst, old, max(old, MIN_OPSET)


def preprocess(src: Path, dst: Path) -> tuple[Path, str]:
    """ORT's quantization pre-processing, falling back to no symbolic shape inference when it fails."""
    import contextlib

    from onnxruntime.quantization.shape_inference import quant_pre_process

    # On failure, symbolic shape inference dumps "sym_shape_infer_temp.onnx" into the cwd; keep it out of the user's.
    with contextlib.chdir(dst.parent):
        try:
            quant_pre_process(str(src), str(dst), skip_symbolic_shape=False)
            return dst, "full"
        except Exception:  # symbolic shape inference gives up on some graphs (PP-OCRv4 det)
            quant_pre_process(str(src), str(dst), skip_symbolic_shape=True)
            return dst, "skip_symbolic_shape"


@functools.cache
def saturates() -> bool:
    """Whether this is an x86 CPU without VNNI: there ONNX Runtime multiplies uint8 activations by int8 weights
    with AVX2's ``vpmaddubsw``, whose 16-bit sums saturate, so weights must keep to 7 bits (``reduce_range``,
    as ONNX Runtime's quantization docs advise). The direction classifier's int8 model, quantized alike, read
    1.000 of fp32 on an AVX-512 VNNI host and 0.981 on an AVX2 one."""
    from edgevid.devices.probe import probe_cpu

    cpu = probe_cpu(Path("/"))
    # no flags read (not Linux): full range, as on a VNNI host
    return (cpu.arch.lower() in ("x86_64", "amd64") and bool(cpu.features)
            and not {"avx512_vnni", "avx_vnni"} & set(cpu.features))


def prepare(src: Path, folder: Path) -> tuple[Path, dict]:
    """``src`` as ONNX Runtime's quantizer takes it, written into ``folder``: opset >= 13 and pre-processed;
    returns its path and the recipe's note of both steps."""
    up, old, new = upgrade_opset(src, folder / "opset.onnx")
    pre, mode = preprocess(up, folder / src.name)
    return pre, {"opset": [old, new], "pre_process": mode}


def seed_of(qdq_model: Path, float_model: Path) -> dict:
    """What another quantizer decided in ``qdq_model``, a QDQ int8 form of ``float_model``, for
    :func:`quantize` to reuse: each activation it quantized, with its range (``ranges``: tensor name ->
    [min, max], from a per-tensor QuantizeLinear), and each bias it changed (``biases``: initializer name ->
    array; NNCF's fast bias correction)."""
    import onnx
    from onnx import numpy_helper

    qdq, source = onnx.load(str(qdq_model)).graph, onnx.load(str(float_model)).graph
    inits = {i.name: i for i in qdq.initializer}
    ranges: dict[str, list[float]] = {}
    for n in qdq.node:
        if n.op_type == "QuantizeLinear" and n.input[0] not in inits and len(n.input) > 2:
            scale, zero = numpy_helper.to_array(inits[n.input[1]]), numpy_helper.to_array(inits[n.input[2]])
            if scale.size == 1:
                lo, hi = np.iinfo(zero.dtype).min, np.iinfo(zero.dtype).max
                s, z = float(scale.reshape(-1)[0]), float(zero.reshape(-1)[0])
                ranges[n.input[0]] = [(lo - z) * s, (hi - z) * s]
    old = {i.name: numpy_helper.to_array(i) for i in source.initializer}
    biases: dict[str, np.ndarray] = {}
    for n in qdq.node:
        if n.op_type in ("Conv", "ConvTranspose", "Gemm") and len(n.input) > 2 and n.input[2] in old and n.input[2] in inits:
            new = numpy_helper.to_array(inits[n.input[2]])
            if new.shape == old[n.input[2]].shape and not np.array_equal(new, old[n.input[2]]):
                biases[n.input[2]] = new
    return {"ranges": ranges, "biases": biases}


def _seeded(pre: Path, seed: dict, folder: Path) -> tuple[Path, dict]:
    """``pre`` with ``seed``'s corrected biases, and ``seed``'s activation ranges as the quantizer's overrides
    (each widened to hold 0, as the quantizer's own ranges do)."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(pre))
    for init in model.graph.initializer:
        if init.name in seed["biases"]:
            init.CopyFrom(numpy_helper.from_array(np.asarray(seed["biases"][init.name], np.float32), init.name))
    out = folder / f"seeded.{pre.name}"
    onnx.save(model, str(out))
    # the quantizer refuses an override of a tensor the model lacks
    present = {o for n in model.graph.node for o in n.output} | {i.name for i in model.graph.input}
    overrides = {t: [{"rmin": np.float32(min(lo, 0.0)), "rmax": np.float32(max(hi, 0.0))}]
                 for t, (lo, hi) in seed["ranges"].items() if t in present}
    return out, {"TensorQuantOverrides": overrides}


def quantize(src: Path, dst: Path, calibration: list[dict[str, np.ndarray]], exclude: list[str] | None = None,
             method: str = "MinMax", op_types: tuple[str, ...] | None = OP_TYPES, seed: dict | None = None) -> dict:
    """Write a QDQ int8 model to ``dst``; returns the recipe (steps, opsets, excluded nodes, op types).

    Only ``op_types`` are quantized (see :data:`OP_TYPES`). ``seed`` (:func:`seed_of` a QDQ model of the same
    prepared model) gives the activations it holds their ranges and the convolutions their biases; ONNX
    Runtime still places every quantizer and calibrates the other tensors."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    calibration = rekey(src, calibration)
    reduce_range = saturates()
    with tempfile.TemporaryDirectory() as tmp:
        pre, steps = prepare(src, Path(tmp))
        extra: dict = {}
        if seed:
            pre, extra = _seeded(pre, seed, Path(tmp))
        quantize_static(str(pre), str(dst), _Feeds(calibration), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, reduce_range=reduce_range,
                        calibrate_method=CalibrationMethod[method], nodes_to_exclude=list(exclude or []),
                        op_types_to_quantize=list(op_types) if op_types else None, extra_options=extra)
    recipe = {"tool": "onnxruntime.quantization.quantize_static", "format": "QDQ", "per_channel": True,
              "reduce_range": reduce_range, "calibration": method, **steps, "calibration_frames": len(calibration),
              "op_types": list(op_types) if op_types else "all", "excluded_nodes": list(exclude or [])}
    if seed:
        recipe["seeded"] = {"activation_ranges": len(seed["ranges"]), "corrected_biases": len(seed["biases"])}
    return recipe


def _images(feeds: list[dict[str, np.ndarray]]):
    """Each feed split along its batch axis: one image (or text line) per feed."""
    for feed in feeds:
        for one in zip(*(np.split(v, len(v)) for v in feed.values())):
            yield dict(zip(feed, one))


def _removed_activations(float_graph, qdq_graph) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """The float graph's Relu and Clip nodes that ONNX Runtime's QDQ quantizer folded away, by output tensor,
    each as the function it computed.

    The quantizer removes such an activation when it can give its output's range to the tensor before it:
    the producer (a Conv, an Add) then writes the activation's output tensor itself, unclipped, and its
    QuantizeLinear does the clipping. So at that tensor, "before" the QDQ pair holds negative values that
    "after" cannot, and the difference is the activation, not quantization noise.
    """
    from onnx import numpy_helper

    consts = {i.name: numpy_helper.to_array(i) for i in float_graph.initializer}
    for n in float_graph.node:
        if n.op_type == "Constant" and n.attribute:
            consts[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
    still_there = {n.name for n in qdq_graph.node}
    removed: dict[str, Callable[[np.ndarray], np.ndarray]] = {}
    for n in float_graph.node:
        if n.name in still_there or n.op_type not in ("Relu", "Clip"):
            continue
        if n.op_type == "Relu":
            lo, hi = 0.0, None
        else:  # bounds are inputs from opset 11, attributes before
            attrs = {a.name: a.f for a in n.attribute}
            bound = [float(consts[i]) if i in consts else None for i in list(n.input[1:3]) if i]
            lo = bound[0] if bound else attrs.get("min")
            hi = bound[1] if len(bound) > 1 else attrs.get("max")
        removed[n.output[0]] = (lambda x: x) if lo is None and hi is None else functools.partial(np.clip, a_min=lo,
                                                                                                  a_max=hi)
    return removed


#: Ops with weights: an output path ends at one (see :func:`output_path`).
_WEIGHTED = frozenset({"Conv", "ConvTranspose", "MatMul", "Gemm"})


def output_path(float_model: Path) -> list[str]:
    """The nodes from each graph output back to the weighted op that computes it, outputs first.

    The walk goes through Concat and through ops with a single non-constant input (Reshape, Transpose, a
    bias Add, Sigmoid, Softmax), and stops at a weighted op or where branches join. These nodes write what
    the task reads and thresholds, where no later layer averages an error out; and they must stay float
    together: BlazeFace short read 0.797 of fp32 with its output Concats float, 0.545 with its head
    convolutions float, and 0.967 with both (0.560 with none).
    """
    import onnx

    return list(dict.fromkeys(n for path in _output_paths(onnx.load(str(float_model)).graph).values() for n in path))


def _output_paths(graph) -> dict[str, list[str]]:
    """:func:`output_path` of each graph output, by output name."""
    consts = {i.name for i in graph.initializer} | {o for n in graph.node if n.op_type == "Constant" for o in n.output}
    producer = {o: n for n in graph.node for o in n.output}
    paths: dict[str, list[str]] = {}
    for out in graph.output:
        path = paths.setdefault(out.name, [])
        todo = [out.name]
        while todo:
            node = producer.get(todo.pop(0))
            if node is None or node.name in path or node.op_type == "Constant":
                continue
            path.append(node.name)
            inputs = [i for i in node.input if i and i not in consts]
            if node.op_type not in _WEIGHTED and (node.op_type == "Concat" or len(inputs) == 1):
                todo += inputs
    return paths


def sensitivity(float_model: Path, qdq_model: Path, feeds: list[dict[str, np.ndarray]]) -> list[tuple[str, float]]:
    """Nodes to keep float, in the order to try them: (node name, SQNR dB).

    First the :func:`output_path`, each node with the SQNR of the graph output it leads to; then two
    kinds, each worst first:

    1. **Folded activations.** The quantizer folds a Relu or Clip into the tensor before it, whose
       QuantizeLinear then clips (:func:`_removed_activations`). Keeping one float unfolds it: its input is
       quantized over its own range, and the activation runs in float. These come first, ranked by the SQNR
       of the unclipped tensor against the quantized one, which is low where the activation clips much of
       the signal. Unfolding is cheap where keeping a conv float is not: BlazePose's detector met the floor
       with 4 Relu6 unfolded (0.9912, 1.33x fp32), and needed 8 convolutions float otherwise (0.9937, 1.27x).
    2. **Nodes**, by their own quantization error: each activation's local error (before vs after its
       QuantizeLinear/DequantizeLinear pair, on the calibration feeds; ONNX Runtime's ``qdq_loss_debug``
       tools measure it), so an error that merely propagates from upstream is not blamed on every later
       layer. It is charged to the node that writes the tensor in the quantized graph, a node of the float
       graph by the same name, or else (a graph output) to its float producer; where an activation was
       folded, "before" is taken after the activation, so that its clipping is not counted as noise.
    """
    import onnx
    from onnxruntime.quantization.qdq_loss_debug import (collect_activations, compute_signal_to_quantization_noice_ratio,
                                                         create_activation_matching,
                                                         modify_model_output_intermediate_tensors)

    feeds = rekey(float_model, feeds)
    float_graph, qdq_graph = onnx.load(str(float_model)).graph, onnx.load(str(qdq_model)).graph
    floats = {n.name for n in float_graph.node}
    # A graph output's QuantizeLinear/DequantizeLinear pair is written last, so the DequantizeLinear writes
    # the output's name: that tensor is charged to its float producer (BlazeFace's heads are such outputs).
    writer = {o: n.name for n in float_graph.node for o in n.output}
    writer |= {o: n.name for n in qdq_graph.node if n.name in floats for o in n.output}
    removed = _removed_activations(float_graph, qdq_graph)
    folded_by = {n.output[0]: n.name for n in float_graph.node if n.output and n.output[0] in removed}
    per_feed: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        aug = Path(tmp) / "aug.onnx"
        modify_model_output_intermediate_tensors(str(qdq_model), str(aug))
        # One image at a time: every intermediate tensor of every feed at once took 21 GB for PP-OCRv4 rec's
        # text-line batches (one batch alone, 10 GB), and the build was killed for it on a 24 GB host.
        for feed in _images(feeds):
            acts = collect_activations(str(aug), _Feeds([feed]))
            for tensor, match in create_activation_matching(acts).items():
                pre, post = match["pre_qdq"], match["post_qdq"]
                if tensor in removed:
                    per_feed.setdefault(("folded", folded_by[tensor]), []).append(
                        compute_signal_to_quantization_noice_ratio(pre, post))
                    pre = [removed[tensor](p) for p in pre]
                if tensor in writer and writer[tensor] != folded_by.get(tensor):
                    per_feed.setdefault(("node", writer[tensor]), []).append(
                        compute_signal_to_quantization_noice_ratio(pre, post))
            del acts
    ranked: dict[str, dict[str, float]] = {"folded": {}, "node": {}}
    for (kind, node), sqnrs in per_feed.items():
        # per image, then averaged: images may differ in shape (text lines of different widths)
        ranked[kind][node] = min(float(np.mean(sqnrs)), ranked[kind].get(node, float("inf")))
    # an output left unquantized (an integer output, say) has no error to report: inf
    head: dict[str, float] = {}
    for out, path in _output_paths(float_graph).items():
        for n in path:
            head[n] = min(head.get(n, float("inf")), ranked["node"].get(writer.get(out, ""), float("inf")))
    return list(head.items()) + [kv for kind in ("folded", "node")
                                 for kv in sorted(ranked[kind].items(), key=lambda kv: kv[1]) if kv[0] not in head]
