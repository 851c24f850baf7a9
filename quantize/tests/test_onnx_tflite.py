"""The shapes onnx2tf's fixed-size NHWC models take, from the feeds a task really makes."""

from __future__ import annotations

import numpy as np

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
