"""The three real backends on real models: contract, agreement, precision honesty, error mapping."""

from __future__ import annotations

import numpy as np
import pytest

from edgevid.backends.base import LoadOptions, format_of
from edgevid.errors import ConfigError, DeviceUnavailableError, InferenceError, UnsupportedModelError
from edgevid.registry import get_registry


def _face_input() -> np.ndarray:
    """The astronaut's face, resized to BlazeFace's 128x128 input in [-1, 1] (real content)."""
    import cv2
    from skimage import data

    face = data.astronaut()[60:200, 160:300]
    return (cv2.resize(face, (128, 128)).astype(np.float32)[None] / 127.5 - 1.0)


@pytest.fixture(scope="module")
def backends():
    reg = get_registry()
    return {name: reg.require_backend(name) for name in ("onnxruntime", "openvino", "tflite")}


def test_formats_each_backend_reads(backends):
    assert backends["onnxruntime"].formats == {"onnx"}
    assert backends["openvino"].formats == {"onnx", "tflite", "openvino"}
    assert backends["tflite"].formats == {"tflite"}
    assert format_of("m.xml") == "openvino"
    with pytest.raises(UnsupportedModelError):
        format_of("model.pt")


def test_each_backend_reports_version_and_cpu(backends):
    for cls in backends.values():
        assert cls.available()
        assert cls.version() and cls.version()[0].isdigit()
        assert "CPU" in cls.devices()
    assert "AUTO" in backends["openvino"].devices()


def test_tflite_and_openvino_agree_on_blazeface(backends, real_model):
    path = real_model("blazeface_short")
    x = _face_input()
    tfl = backends["tflite"].load(path, LoadOptions(threads=2))
    ov = backends["openvino"].load(path, LoadOptions(threads=2, precision="f32"))
    assert [s.name for s in tfl.inputs] == [s.name for s in ov.inputs] == ["input"]
    assert tfl.inputs[0].shape == (1, 128, 128, 3) and tfl.inputs[0].layout == "NHWC"
    a, b = tfl.run({"input": x}), ov.run({"input": x})
    assert set(a) == set(b) == {"regressors", "classificators"}
    # the face must actually be detected: this proves the feed is meaningful, not just shapes
    assert 1 / (1 + np.exp(-a["classificators"].max())) > 0.9
    for k in a:
        np.testing.assert_allclose(a[k], b[k], atol=2e-3, rtol=1e-3)


def test_tflite_runs_its_reference_kernels_when_asked(backends, real_model):
    """``kernels="reference"`` leaves XNNPACK out (no delegate node in the plan), says so, and computes the
    same detections: it is the exact yardstick the toolchain checks conversions against."""
    path = real_model("blazeface_short")
    x = _face_input()
    fast = backends["tflite"].load(path, LoadOptions(threads=2))
    exact = backends["tflite"].load(path, LoadOptions(options={"kernels": "reference"}))
    ops = lambda s: {o["op_name"] for o in s.interp._get_ops_details()}  # noqa: E731
    assert "DELEGATE" in ops(fast) and "DELEGATE" not in ops(exact)
    assert "reference kernels" in exact.info()["notes"][0]
    a, b = fast.run({"input": x}), exact.run({"input": x})
    assert 1 / (1 + np.exp(-b["classificators"].max())) > 0.9
    for k in a:
        np.testing.assert_allclose(a[k], b[k], atol=2e-3, rtol=1e-3)
    with pytest.raises(ConfigError, match="kernels='refrence'"):
        backends["tflite"].load(path, LoadOptions(options={"kernels": "refrence"}))


def test_openvino_reports_the_precision_it_runs(backends, real_model):
    path = real_model("blazeface_short")
    forced = backends["openvino"].load(path, LoadOptions(threads=1, precision="f32"))
    assert forced.precision == "f32" and forced.threads == 1
    default = backends["openvino"].load(path, LoadOptions(threads=1))
    import openvino as ov

    expected = ov.Core().get_property("CPU", "INFERENCE_PRECISION_HINT").get_type_name()
    assert default.precision == expected  # bf16 on AVX-512 BF16/AMX hosts: never hidden
    assert default.info()["precision"] == expected


def test_precision_hint_a_runtime_cannot_honour_is_reported(backends, real_model):
    s = backends["tflite"].load(real_model("blazeface_short"), LoadOptions(precision="bf16"))
    assert s.precision == "f32"
    assert "ignored" in s.info()["notes"][0]


def test_onnxruntime_and_openvino_agree_on_ppocr_cls_with_dynamic_shape(backends, real_model):
    path = real_model("ppocr_cls")
    ort = backends["onnxruntime"].load(path, LoadOptions(threads=2))
    ov = backends["openvino"].load(path, LoadOptions(threads=2, precision="f32"))
    assert ort.inputs[0].shape == (None, 3, None, None) and ort.inputs[0].layout == "NCHW"
    assert ort.precision == "f32"
    import cv2
    from skimage import data

    crop = cv2.resize(data.text()[20:80, 0:240], (192, 48)).astype(np.float32) / 127.5 - 1
    x = np.repeat(crop[None, None], 3, axis=1).repeat(2, axis=0)
    a = ort.run({"x": x})
    b = ov.run({"x": x})
    (k,) = a
    assert a[k].shape == (2, 2)
    np.testing.assert_allclose(a[k], b[k], atol=1e-3)


@pytest.mark.parametrize("name", ["onnxruntime", "openvino", "tflite"])
def test_unknown_device_is_a_typed_error(backends, real_model, name):
    path = real_model("ppocr_cls" if name == "onnxruntime" else "blazeface_short")
    with pytest.raises(DeviceUnavailableError, match="NOSUCHDEV|no device"):
        backends[name].load(path, LoadOptions(device="NOSUCHDEV"))


@pytest.mark.parametrize("name,suffix", [("onnxruntime", ".onnx"), ("openvino", ".onnx"), ("tflite", ".tflite")])
def test_garbage_file_is_unsupported_model_not_a_crash(backends, tmp_path, name, suffix):
    bad = tmp_path / f"bad{suffix}"
    bad.write_bytes(b"this is not a model" * 10)
    with pytest.raises(UnsupportedModelError, match=name):
        backends[name].load(bad)


def test_wrong_feed_is_an_inference_error(backends, real_model):
    s = backends["onnxruntime"].load(real_model("ppocr_cls"))
    with pytest.raises(InferenceError, match="onnxruntime failed"):
        s.run({"x": np.zeros((1, 2, 48, 192), np.float32)})
