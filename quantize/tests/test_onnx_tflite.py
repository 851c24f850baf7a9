"""The shapes onnx2tf's fixed-size NHWC models take, from the feeds a task really makes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgevid_quantize.onnx_tflite import nhwc, source_form, static_shape


def _feed(n: int, h: int, w: int, value: float = 0.5) -> dict[str, np.ndarray]:
    return {"x": np.full((n, 3, h, w), value, np.float32)}


def _onnx(path, dims) -> str:
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, dims)
    onnx.save(helper.make_model(helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])), str(path))
    return path


def test_static_shape_is_the_most_common_feed_at_batch_one(tmp_path):
    feeds = [_feed(6, 48, 320), _feed(2, 48, 320), _feed(1, 48, 416)]
    assert static_shape(_onnx(tmp_path / "m.onnx", ["n", 3, 48, "w"]), feeds) == [1, 3, 48, 320]


def test_a_fixed_input_keeps_its_own_shape(tmp_path):
    """MediaPipe's conversions are fixed-size NHWC: feeds do not change them."""
    assert static_shape(_onnx(tmp_path / "m.onnx", [1, 128, 128, 3]), [_feed(1, 48, 320)]) == [1, 128, 128, 3]


def test_narrow_line_is_padded_right_like_the_recogniser_batches():
    x = np.arange(2 * 3 * 48 * 200, dtype=np.float32).reshape(2, 3, 48, 200)
    out = nhwc(x, [1, 3, 48, 320])
    assert [o.shape for o in out] == [(1, 48, 320, 3)] * 2
    np.testing.assert_array_equal(out[1][0, :, :200], x[1].transpose(1, 2, 0))
    assert not out[1][0, :, 200:].any()


def test_a_long_line_is_cut_into_the_windows_the_task_reads_it_in():
    x = np.arange(1 * 3 * 48 * 600, dtype=np.float32).reshape(1, 3, 48, 600)
    wins = nhwc(x, [1, 3, 48, 320], lines=True)
    # windows every 320 - 2 * 32 = 256 pixels: 0, 256 and 512, the last zero-padded past 600
    assert [w.shape for w in wins] == [(1, 48, 320, 3)] * 3
    np.testing.assert_array_equal(wins[1][0], x[0, :, :, 256:576].transpose(1, 2, 0))
    np.testing.assert_array_equal(wins[2][0, :, :88], x[0, :, :, 512:].transpose(1, 2, 0))
    assert not wins[2][0, :, 88:].any()
    # a model that does not read lines has it squeezed, and a frame of another height is stretched either way
    assert len(nhwc(x, [1, 3, 48, 320])) == 1
    assert len(nhwc(np.zeros((1, 3, 544, 960), np.float32), [1, 3, 480, 640], lines=True)) == 1


def test_other_sizes_are_stretched_and_keep_their_content():
    x = np.zeros((1, 3, 544, 960), np.float32)
    x[:, 0] = 1.0  # red everywhere
    (out,) = nhwc(x, [1, 3, 480, 640])
    assert out.shape == (1, 480, 640, 3)
    np.testing.assert_allclose(out[0, ..., 0], 1.0)
    np.testing.assert_allclose(out[0, ..., 1:], 0.0)


def test_nhwc_feeds_of_an_nhwc_model_pass_through():
    x = np.arange(2 * 128 * 128 * 3, dtype=np.float32).reshape(2, 128, 128, 3)
    out = nhwc(x, [1, 128, 128, 3])
    np.testing.assert_array_equal(np.concatenate(out), x)
    np.testing.assert_array_equal(source_form(out[0], [1, 128, 128, 3]), x[:1])
    assert source_form(out[0], [1, 3, 128, 128]).shape == (1, 3, 128, 128)


@pytest.mark.slow
def test_mediapipe_model_goes_back_to_a_tf_graph_and_to_full_integer(module_home, tmp_path):
    """A MediaPipe .tflite has no TF graph for the integer converter: its verified ONNX conversion goes through
    onnx2tf (NHWC kept) to a SavedModel, whose fp32 TFLite matches the source and whose int8 TFLite is integer
    throughout and still finds the faces fp32 finds."""
    from edgevid.api import load
    from edgevid.backends.tflite import TfliteBackend
    from edgevid.bench.accuracy import agreement
    from edgevid.models import store
    from edgevid.registry import get_registry
    from edgevid.tasks.feeds import capture
    from edgevid_quantize import onnx_tflite
    from edgevid_quantize.build import build
    from edgevid_quantize.frames import frames
    from edgevid_quantize.scoring import file_variant, load_at_f32, run_each, task_with
    from edgevid_quantize.tflite_onnx import verify
    from edgevid_quantize.workers import in_fresh_process

    card = get_registry().task("face").models["short"]
    (conv,) = [e for e in build("face", ("fp32",), models=(card.id,), say=lambda _: None)[card.id]
               if e["name"] == "fp32-onnx"]
    calib, held = frames("face")
    ref_task = load("face", backend="tflite", variant="fp32", precision="f32")
    try:
        feeds = capture(ref_task, calib)["short"]
        # only the held-out frames the task routes to this model measure it
        held = [f for f in held if capture(ref_task, [f])["short"]]
        reference = run_each(ref_task, held)
    finally:
        ref_task.close()
    assert len(held) >= 8
    shape = onnx_tflite.static_shape(module_home / conv["path"], feeds)
    assert shape == [1, 128, 128, 3]
    work = store.home() / "lab"
    made = in_fresh_process(onnx_tflite.convert, module_home / conv["path"], work, shape, calib)
    source = load_at_f32(card, card.reference, "tflite")
    back = load_at_f32(card, file_variant(Path(made["tflite"])), "tflite")
    try:
        assert verify(source, back, feeds[:16])["max_relative_error"] <= 1e-4
    finally:
        source.close()
        back.close()
    samples = [s for f in feeds for s in onnx_tflite.nhwc(next(iter(f.values())), shape)]
    out = work / "int8.tflite"
    in_fresh_process(onnx_tflite.quantize, made["saved_model"], out, samples[:32], [])
    session = TfliteBackend.load(out)
    try:
        assert session.precision == "int8"
    finally:
        session.close()
    int8 = load_at_f32(card, file_variant(out), "tflite")
    task = task_with("face", "short", int8, {})
    try:
        score = agreement(reference, run_each(task, held))
    finally:
        task.close()
    # BlazeFace's score logits lose most in int8 (ONNX Runtime's QDQ: 0.56 too); broken int8 finds nothing
    assert 0.4 <= score <= 1.0
