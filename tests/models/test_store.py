"""The model store: sha256-verified, cached, tamper-evident, offline once cached; unsafe files refused."""

from __future__ import annotations

import shutil

import pytest

from edgevid.errors import ChecksumError, ModelFetchError, ModelNotFoundError, UnsafeModelError, UnsupportedModelError
from edgevid.models import store
from edgevid.models.card import PackageSource, Variant, WheelSource
from edgevid.models.safety import check_safe

from edgevid.testing.models import REAL_MODELS, real_model_path


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An empty store that shares the real store's downloaded wheels (so tests don't hit the registry twice)."""
    real_wheels = store.home() / "wheels"
    monkeypatch.setenv("EDGEVID_HOME", str(tmp_path))
    if real_wheels.is_dir():
        shutil.copytree(real_wheels, tmp_path / "wheels")
    return tmp_path


def _variant(key="blazeface_short", sha=None):
    req, member, real_sha = REAL_MODELS[key]
    return Variant("fp32", "tflite", "fp32", sha or real_sha, WheelSource(req, member))


def test_fetch_extracts_and_verifies(home):
    path = store.fetch(_variant())
    assert path.is_file() and path.parent.name == _variant().sha256
    assert store.sha256_of(path) == _variant().sha256
    assert store.is_cached(_variant())


def test_checksum_mismatch_is_typed_and_file_never_kept(home):
    bad = _variant(sha="0" * 64)
    with pytest.raises(ChecksumError, match="discarded"):
        store.fetch(bad)
    assert not list((home / "blobs" / ("0" * 64)).glob("*.tflite"))


def test_tampered_cache_is_detected_and_removed(home):
    path = store.fetch(_variant())
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.chmod(0o644)
    path.write_bytes(bytes(data))
    with pytest.raises(ChecksumError):
        store.fetch(_variant())
    assert not path.exists()
    assert store.fetch(_variant()).is_file()  # and the next fetch restores it from the cached wheel


def test_cached_models_need_no_network(home, monkeypatch):
    store.fetch(_variant())

    def no_network(*a, **k):
        raise AssertionError("the registry was contacted for a cached model")

    monkeypatch.setattr(store.subprocess, "run", no_network)
    assert store.fetch(_variant()).is_file()


def test_unpinned_wheel_is_refused(home):
    v = Variant("fp32", "tflite", "fp32", "0" * 64, WheelSource("mediapipe", "x.tflite"))
    with pytest.raises(ModelFetchError, match="pin"):
        store.fetch(v)


def test_missing_member_and_package(home):
    req, _, _ = REAL_MODELS["blazeface_short"]
    with pytest.raises(ModelNotFoundError):
        store.fetch(Variant("fp32", "tflite", "fp32", "0" * 64, WheelSource(req, "mediapipe/nope.tflite")))
    with pytest.raises(ModelNotFoundError):
        store.fetch(Variant("fp32", "tflite", "fp32", "0" * 64, PackageSource("no_such_pkg_xyz", "m.tflite")))


@pytest.mark.parametrize("name", ["model.pt", "model.pth", "weights.pkl", "model.ckpt"])
def test_pickle_formats_are_refused(tmp_path, name):
    p = tmp_path / name
    p.write_bytes(b"\x80\x04K\x01.")
    with pytest.raises(UnsafeModelError):
        check_safe(p)


def test_pickle_disguised_as_onnx_is_refused(tmp_path):
    p = tmp_path / "model.onnx"
    p.write_bytes(b"\x80\x04\x95\x00\x00")
    with pytest.raises(UnsafeModelError):
        check_safe(p)


def test_tflite_without_identifier_is_unsupported(tmp_path):
    p = tmp_path / "model.tflite"
    p.write_bytes(b"\x00" * 64)
    with pytest.raises(UnsupportedModelError):
        check_safe(p)


def test_onnx_external_data_outside_folder_is_refused(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    tensor = helper.make_tensor("w", TensorProto.FLOAT, [1], [0.0])
    tensor.ClearField("float_data")
    tensor.data_location = TensorProto.EXTERNAL
    for k, v in {"location": "../../etc/passwd", "offset": "0", "length": "4"}.items():
        e = tensor.external_data.add()
        e.key, e.value = k, v
    node = helper.make_node("Identity", ["w"], ["y"])
    graph = helper.make_graph([node], "g", [], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])], [tensor])
    p = tmp_path / "evil.onnx"
    p.write_bytes(helper.make_model(graph).SerializeToString())
    with pytest.raises(UnsafeModelError, match="leaves the model's folder"):
        check_safe(p)


def test_real_onnx_model_passes_safety():
    check_safe(real_model_path("ppocr_det"))
