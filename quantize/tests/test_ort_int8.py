"""ONNX Runtime's int8 quantizer on PP-OCRv4's detector, piece by piece: the opset upgrade, the sensitivity
ranking and a seed from another quantizer's model, each on crops of a real text scene.

The whole build of the detector, with these pieces in it, is tested in ``test_build.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgevid.models import store

pytestmark = pytest.mark.slow


def _det_card():
    from edgevid.registry import get_registry

    return get_registry().task("text").models["detector"]


def test_opset_upgrade_keeps_outputs(tmp_path):
    """PP-OCRv4 det is opset 12; the upgraded copy is opset 13 and computes the same map on a text frame."""
    import onnxruntime as ort

    from edgevid.testing.scenes_text import standard_scenes
    from edgevid_quantize.ort_int8 import upgrade_opset

    src = store.fetch(_det_card().reference)
    up, old, new = upgrade_opset(src, tmp_path / "up.onnx")
    assert (old, new) == (12, 13)
    img = standard_scenes()[0].image[:, :, ::-1].astype(np.float32) / 255.0
    x = ((img - 0.5) / 0.5).transpose(2, 0, 1)[None].copy()
    outs = []
    for path in (src, up):
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        outs.append(sess.run(None, {sess.get_inputs()[0].name: x})[0])
    assert outs[0].max() > 0.9, "the frame has text: the probability map must light up"
    np.testing.assert_allclose(outs[1], outs[0], atol=1e-4)


def test_sensitivity_reads_a_batch_one_image_at_a_time(tmp_path):
    """A batched feed is ranked image by image, as if each image were its own feed: holding every intermediate
    tensor of a whole batch of text lines took 10 GB for PP-OCRv4 rec, and 21 GB for all its feeds."""
    from edgevid.testing.scenes_text import standard_scenes
    from edgevid_quantize.ort_int8 import quantize, sensitivity

    src = store.fetch(_det_card().reference)
    img = standard_scenes()[0].image[:, :, ::-1].astype(np.float32) / 255.0
    # two different 160x160 crops of a real text scene, as one batch and as two feeds
    crops = [((img[y:y + 160, x:x + 160] - 0.5) / 0.5).transpose(2, 0, 1) for y, x in ((0, 0), (80, 160))]
    name = "x"
    batch = [{name: np.stack(crops)}]
    single = [{name: c[None].copy()} for c in crops]
    qdq = tmp_path / "q.onnx"
    quantize(src, qdq, single)
    by_batch, by_image = dict(sensitivity(src, qdq, batch)), dict(sensitivity(src, qdq, single))
    assert len(by_batch) > 50 and by_batch.keys() == by_image.keys()
    for node, sqnr in by_image.items():
        assert by_batch[node] == pytest.approx(sqnr, abs=1e-6), node


def test_sensitivity_tells_folded_activations_from_nodes(tmp_path):
    """The ranking starts with the output path (the probability map's Sigmoid back to the last
    ConvTranspose). The quantizer folds a Relu or Clip into the tensor before it, whose QuantizeLinear then
    clips: the ranking offers those activations next, to unfold, and then the nodes by their own error,
    charged to the node that still writes each tensor, with the clipping not counted as noise (it was:
    folded activations read 0.2-9 dB among the nodes, and a ranked node could be one the quantized graph no
    longer has)."""
    import onnx

    from edgevid.testing.scenes_text import standard_scenes
    from edgevid_quantize.ort_int8 import output_path, quantize, sensitivity

    src = store.fetch(_det_card().reference)
    img = standard_scenes()[0].image[:, :, ::-1].astype(np.float32) / 255.0
    feeds = [{"x": ((img[y:y + 160, x:x + 160] - 0.5) / 0.5).transpose(2, 0, 1)[None].copy()}
             for y, x in ((0, 0), (80, 160))]
    qdq = tmp_path / "q.onnx"
    quantize(src, qdq, feeds)
    float_nodes, qdq_nodes = onnx.load(str(src)).graph.node, onnx.load(str(qdq)).graph.node
    float_ops = {n.name: n.op_type for n in float_nodes}
    left = {n.name for n in qdq_nodes}
    folded = {name for name, op in float_ops.items() if op in ("Relu", "Clip") and name not in left}
    assert folded, "PP-OCRv4 det's activations after quantized ops are folded"
    ranked = sensitivity(src, qdq, feeds)
    path = output_path(src)
    assert [float_ops[n] for n in path] == ["Sigmoid", "Add", "ConvTranspose"]
    assert [n for n, _ in ranked[:len(path)]] == path
    # each path node carries the error at the output: one finite SQNR, the same for all three
    assert len({v for _, v in ranked[:len(path)]}) == 1 and 10.0 < ranked[0][1] < 100.0
    ranked = ranked[len(path):]
    names = [n for n, _ in ranked]
    assert set(names[:len(folded)]) == folded, "the folded activations come next"
    nodes = dict(ranked[len(folded):])
    assert nodes.keys() <= left & set(float_ops), "then nodes both graphs have"
    assert len(nodes) > 200 and min(nodes.values()) > 10.0, ranked[len(folded):len(folded) + 4]
    # "before" is clipped by the folded activation: a Conv whose Relu was folded is ranked by its own error
    clipped = {n.output[0] for n in float_nodes if n.name in folded}
    writers = {n.name for n in qdq_nodes if clipped & set(n.output)}
    assert writers and writers <= nodes.keys()


def test_a_seed_gives_onnx_runtimes_quantizer_nncfs_ranges_and_bias_corrections(tmp_path):
    """ONNX Runtime's quantizer, seeded with another int8 model of the same network (NNCF's, here), places its
    own quantizers but takes that model's range for every activation both quantize and its corrected biases:
    each seeded activation's QuantizeLinear scale is the seed's range over 255, and each corrected bias comes
    back from its int32 form within half a step of the seed's value, not the source's."""
    import nncf
    import onnx
    from onnx import numpy_helper

    from edgevid.testing.scenes_text import standard_scenes
    from edgevid_quantize.ort_int8 import prepare, quantize, seed_of

    src = store.fetch(_det_card().reference)
    img = standard_scenes()[0].image[:, :, ::-1].astype(np.float32) / 255.0
    feeds = [{"x": ((img[y:y + 160, x:x + 160] - 0.5) / 0.5).transpose(2, 0, 1)[None].copy()}
             for y, x in ((0, 0), (80, 160), (160, 320))]
    pre, _ = prepare(src, tmp_path)
    nncf_qdq = tmp_path / "nncf.onnx"
    onnx.save(nncf.quantize(onnx.load(str(pre)), nncf.Dataset(feeds), subset_size=len(feeds)), str(nncf_qdq))
    seed = seed_of(nncf_qdq, pre)
    assert len(seed["ranges"]) > 50 and len(seed["biases"]) > 5, (len(seed["ranges"]), len(seed["biases"]))

    def scales(path):
        graph = onnx.load(str(path)).graph
        inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
        return graph, inits, {n.input[0]: float(inits[n.input[1]]) for n in graph.node
                              if n.op_type == "QuantizeLinear" and n.input[1] in inits and inits[n.input[1]].size == 1}

    quantize(src, tmp_path / "own.onnx", feeds)
    quantize(src, tmp_path / "seeded.onnx", feeds, seed=seed)
    graph, inits, seeded = scales(tmp_path / "seeded.onnx")
    _, _, own = scales(tmp_path / "own.onnx")
    # an op that moves values without computing them (Resize, MaxPool, Reshape, ...) keeps its input's
    # scale in ONNX Runtime's placement, whatever the seed says of its output
    writer = {o: n.op_type for n in onnx.load(str(pre)).graph.node for o in n.output}
    moves = {"Resize", "MaxPool", "Transpose", "Reshape", "Squeeze", "Unsqueeze", "Flatten", "Gather", "Slice", "Pad"}
    both = {t for t in seeded.keys() & seed["ranges"].keys() if writer.get(t) not in moves}
    assert len(both) > 50, len(both)
    for t in both:
        lo, hi = seed["ranges"][t]
        assert seeded[t] == pytest.approx((max(hi, 0.0) - min(lo, 0.0)) / 255, rel=1e-5), t
    assert sum(not np.isclose(own[t], seeded[t], rtol=1e-3) for t in both) > 10, "the seed changed the ranges"
    # ONNX Runtime stores a bias as int32 with a DequantizeLinear: read it back
    dq = {n.output[0]: n for n in graph.node if n.op_type == "DequantizeLinear"}
    source = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(pre)).graph.initializer}
    checked = 0
    for n in graph.node:
        if n.op_type == "Conv" and len(n.input) > 2 and n.input[2] in dq:
            d = dq[n.input[2]]
            name = d.input[0].removesuffix("_quantized")
            if name in seed["biases"]:
                step = inits[d.input[1]]
                back = inits[d.input[0]].astype(np.float64) * step
                assert np.all(np.abs(back - seed["biases"][name]) <= step / 2 + 1e-7), name
                checked += 1
                moved = np.abs(seed["biases"][name] - source[name]) > step
                assert np.all((np.abs(back - source[name]) > step / 2)[moved]), name
    assert checked == len(seed["biases"]), (checked, len(seed["biases"]))
