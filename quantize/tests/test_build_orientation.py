"""``edgevid build orientation``: every backend's variants of PP-OCR's direction classifier, scored on held-out
line crops whose true angle is known (each line upright, then turned 180 degrees)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

CLS = "ppocr-direction-cls-v2"


@pytest.fixture(scope="module")
def built(module_home):
    """The classifier's fp32 and int8 variants, every backend's, built once: manifest entries by name."""
    from edgevid_quantize.build import build

    log: list[str] = []
    made = build("orientation", ("fp32", "fp16", "int8"), say=log.append)
    assert set(made) == {CLS}, made
    return {e["name"]: e for e in made[CLS]}, log


def test_every_backend_gets_its_variants_measured_by_angle(built):
    entries, log = built
    assert set(entries) == {"fp32-ir", "fp16", "int8-ov", "int8", "fp32-tflite", "int8-tflite"}
    assert {e["metric"] for e in entries.values()} == {"same angle"}
    assert "metric same angle" in log[0] and "54 held-out frames" in log[0]
    for name, e in entries.items():
        assert e["accuracy"] >= 0.99, (name, e["accuracy"])
    assert entries["int8"]["size"] < 0.6 * entries["fp32-ir"]["size"]
    # Paddle's node names ("Softmax@0") are no TensorFlow scope: onnx2tf converts once they are made valid
    assert entries["fp32-tflite"]["recipe"]["verified"]["max_relative_error"] <= 1e-3


@pytest.mark.parametrize(("backend", "variant"), [("onnxruntime", "int8"), ("openvino", "int8-ov"),
                                                  ("tflite", "fp32-tflite"), ("tflite", "int8-tflite")])
def test_built_variants_read_the_true_angle(built, backend, variant):
    """Against exact ground truth, not only fp32: the onnx2tf conversions take NHWC, which the task now feeds."""
    import edgevid
    from edgevid_quantize.frames import frames

    _, held = frames("orientation")
    task = edgevid.load("orientation", backend=backend, variant=variant)
    try:
        assert task.loaded["classifier"].session.backend == backend
        right = sum(task(crop).angle == (0 if i % 2 == 0 else 180) for i, crop in enumerate(held))
    finally:
        task.close()
    assert right / len(held) >= 0.95, f"{variant} on {backend}: {right}/{len(held)}"
