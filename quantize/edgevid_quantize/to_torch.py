"""The fp32 ONNX teacher as a torch module (``onnx2torch``): its graph first made trainable on batches, with
prunable channels, and in the ops onnx2torch converts."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def trainable_graph(src: Path, dst: Path, card) -> Path:
    """Copy of ``src`` whose constant reshapes keep the batch (leading 1 -> 0, "copy the input's") and, where
    only one axis is not 1 (``[1, C, 1, 1]``: tf2onnx's form of a squeeze-excite transpose), infer it
    (-1): the graph then trains on batches and still runs once channels are pruned. ``Constant`` nodes
    become initializers, where ``onnx2torch`` looks for weights (paddle2onnx emits every weight as one).
    Every conv output gets at least its rank: ``onnx2torch`` picks a batch norm's class by it, and shape
    inference loses it after the recogniser's reshapes computed at run time."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(src))
    nodes = list(model.graph.node)
    weights = [n for n in nodes if n.op_type == "Constant" and n.attribute[0].name == "value"]
    model.graph.initializer.extend(numpy_helper.from_array(numpy_helper.to_array(n.attribute[0].t), n.output[0])
                                   for n in weights)
    moved = {id(n) for n in weights}
    del model.graph.node[:]
    model.graph.node.extend(n for n in nodes if id(n) not in moved)
    _fold_channel_adds(model)
    consts = {i.name: i for i in model.graph.initializer}
    users: dict[str, set[str]] = {}
    for n in model.graph.node:
        for i in n.input:
            users.setdefault(i, set()).add(n.op_type)
    for n in model.graph.node:
        # a reshaped weight (paddle2onnx's squeeze-excite biases, (C,) -> [1, C, 1, 1]) has no batch to keep
        if n.op_type == "Reshape" and n.input[1] in consts and users[n.input[1]] == {"Reshape"} \
                and n.input[0] not in consts:
            shape = numpy_helper.to_array(consts[n.input[1]]).copy()
            if (shape[1:] > 1).sum() == 1 and -1 not in shape:  # one axis inferred already: leave it be
                shape[1:][shape[1:] > 1] = -1
            if shape[0] == 1:
                shape[0] = 0
            consts[n.input[1]].CopyFrom(numpy_helper.from_array(shape, n.input[1]))
    dims = model.graph.input[0].type.tensor_type.shape.dim
    for d, size in zip(dims[2:4] if card.input.layout == "NCHW" else dims[1:3], card.input.size):
        if size is not None and not d.dim_value:  # the recogniser's height, 48, left free in its graph
            d.dim_value = size
    model = onnx.shape_inference.infer_shapes(crd_only(model))
    ranked = {v.name for v in model.graph.value_info if v.type.tensor_type.shape.dim}
    for v in [v for v in model.graph.value_info if v.name not in ranked]:
        model.graph.value_info.remove(v)
    model.graph.value_info.extend(helper.make_tensor_value_info(n.output[0], TensorProto.FLOAT, [None] * 4)
                                  for n in model.graph.node if n.op_type == "Conv" and n.output[0] not in ranked)
    onnx.save(model, str(dst))
    return dst


def _fold_channel_adds(model) -> None:
    """In place: a per-channel constant added to a bias-free conv's or transposed conv's output (paddle2onnx
    writes a squeeze-excite conv's bias as ``Add(conv, Reshape(bias, [1, C, 1, 1]))``, and a transposed conv's
    as ``Add(conv, bias)``) becomes that conv's bias. torch-pruning cuts a conv's bias with its channels; a
    separate constant would keep its full width and no longer broadcast."""
    from onnx import numpy_helper

    consts = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    made = {n.output[0]: n for n in model.graph.node}
    uses: dict[str, int] = {}
    for n in model.graph.node:
        for i in n.input:
            uses[i] = uses.get(i, 0) + 1
    dropped, convs = [], ("Conv", "ConvTranspose")
    for add in [n for n in model.graph.node if n.op_type == "Add"]:
        conv, other = (made.get(add.input[0]), add.input[1])
        if conv is None or conv.op_type not in convs:
            conv, other = made.get(add.input[1]), add.input[0]
        shaper = made.get(other)
        if conv is None or conv.op_type not in convs or len(conv.input) > 2 or uses[conv.output[0]] > 1:
            continue
        if other in consts:
            bias = consts[other]
        elif shaper is not None and shaper.op_type == "Reshape" and all(i in consts for i in shaper.input):
            bias = consts[shaper.input[0]]
        else:
            continue
        shape = consts[conv.input[1]].shape  # Conv: (out, in, kh, kw); ConvTranspose: (in, out / group, kh, kw)
        group = next((a.i for a in conv.attribute if a.name == "group"), 1)
        channels = shape[0] if conv.op_type == "Conv" else shape[1] * group
        if bias.size != channels or (bias.ndim == 4 and bias.shape != (1, channels, 1, 1)):
            continue
        name = f"{conv.output[0]}_bias"
        model.graph.initializer.append(numpy_helper.from_array(bias.reshape(channels).astype(np.float32), name))
        conv.input.append(name)
        conv.output[0] = add.output[0]  # the conv now writes what the add did
        dropped.append(add)
    for n in dropped:
        model.graph.node.remove(n)


def crd_only(model):
    """``model`` with each DepthToSpace in DCR mode (tf2onnx's, and ONNX's default) written as the reshape,
    transpose and reshape it is: ``onnx2torch`` converts CRD mode only (BlazePose's detector and
    BlazeFace full-range upsample with it)."""
    import onnx
    from onnx import helper, numpy_helper

    inferred = onnx.shape_inference.infer_shapes(model).graph
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in (*inferred.input, *inferred.value_info)}
    nodes = []
    for n in model.graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
        if n.op_type != "DepthToSpace" or attrs.get("mode", b"DCR") != b"DCR":
            nodes.append(n)
            continue
        b, (_, c, h, w) = attrs["blocksize"], shapes[n.input[0]]
        split, joined, moved = (f"{n.output[0]}_{k}" for k in ("split_shape", "joined_shape", "moved"))
        model.graph.initializer.extend([numpy_helper.from_array(np.array([0, b, b, c // b // b, h, w], np.int64), split),
                                        numpy_helper.from_array(np.array([0, c // b // b, h * b, w * b], np.int64), joined)])
        nodes += [helper.make_node("Reshape", [n.input[0], split], [moved + "0"]),  # 0: the batch, as it comes
                  helper.make_node("Transpose", [moved + "0"], [moved], perm=[0, 3, 4, 1, 5, 2]),
                  helper.make_node("Reshape", [moved, joined], [n.output[0]])]
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return model


#: the file in a work folder that :func:`torch_teacher` writes its trainable graph to, and trunks are cut from
FLEXIBLE = "flexible.onnx"


def torch_teacher(src: Path, work: Path, card, until: str | None = None):
    """The fp32 ONNX model as a torch module (``onnx2torch``), its reshapes made flexible (written to
    ``work / FLEXIBLE``), in eval mode (its batch norms use their running statistics, as the ONNX graph does).
    With ``until``, a ``Sequential`` of two parts converted apart: up to that tensor, and after it."""
    import onnx2torch
    import torch

    flexible = trainable_graph(src, work / FLEXIBLE, card)
    if until is None:
        return onnx2torch.convert(str(flexible)).eval()
    parts = [_cut(flexible, work / "first.onnx", end=until), _cut(flexible, work / "rest.onnx", start=until)]
    return torch.nn.Sequential(*(onnx2torch.convert(str(p)) for p in parts)).eval()


def torch_trunk(flexible: Path, until: str | list[str]):
    """The layers of trainable graph ``flexible`` (what :func:`torch_teacher` wrote) up to tensor ``until`` (or
    to each of several, returned as a tuple in that order), as a torch module in eval mode, also written beside
    it as ``trunk.onnx``: a student's trunk. Unlike :func:`torch_teacher`'s parts, the layers after it need not
    follow from that tensor alone (a detector's neck also reads finer maps)."""
    import onnx2torch

    return onnx2torch.convert(str(_cut(flexible, flexible.with_name("trunk.onnx"), end=until))).eval()


def _cut(flexible: Path, dst: Path, start: str | None = None, end: str | list[str] | None = None) -> Path:
    """The part of ``flexible`` from tensor ``start`` (else its input) to tensor(s) ``end`` (else its output),
    written to ``dst``."""
    import onnx

    graph = onnx.load(str(flexible)).graph
    ends = [end] if isinstance(end, str) else end or [graph.output[0].name]
    onnx.utils.extract_model(str(flexible), str(dst), [start or graph.input[0].name], ends)
    return dst
