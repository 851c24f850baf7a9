"""Accuracy on real backgrounds with rendered strings of known orientation, and backend agreement."""

from __future__ import annotations

import numpy as np
import pytest

import edgevid

cv2 = pytest.importorskip("cv2")
skdata = pytest.importorskip("skimage.data")

WORDS = ["EDGEVID", "Exit 12", "HELLO WORLD", "Platform 9", "NO ENTRY", "Camera 3", "OPEN 24h", "Gate B7",
         "Loading Dock", "SPEED 30"]


def _lines():
    """(crop BGR, true angle) pairs: dark text on a light plate over a real photo, upright and rotated 180."""
    bgs = [skdata.coffee(), skdata.rocket(), skdata.astronaut(), skdata.chelsea()]
    out = []
    for i, word in enumerate(WORDS):
        bg = cv2.cvtColor(bgs[i % len(bgs)], cv2.COLOR_RGB2BGR)
        (tw, th), base = cv2.getTextSize(word, cv2.FONT_HERSHEY_DUPLEX, 1.2, 2)
        crop = bg[40:40 + th + base + 24, 30:30 + tw + 24].copy()
        crop = cv2.addWeighted(crop, 0.25, np.full_like(crop, 235), 0.75, 0)
        cv2.putText(crop, word, (12, 12 + th), cv2.FONT_HERSHEY_DUPLEX, 1.2, (20, 20, 20), 2, cv2.LINE_AA)
        out += [(crop, 0), (cv2.rotate(crop, cv2.ROTATE_180), 180)]
    return out


@pytest.fixture(scope="module", params=["onnxruntime", "openvino"])
def task(request):
    return edgevid.load("orientation", backend=request.param, precision="f32", variant="fp32")


def test_orientation_accuracy(task):
    lines = _lines()
    correct = sum(task(img).angle == angle for img, angle in lines)
    assert correct / len(lines) >= 0.9, f"{correct}/{len(lines)}"


def test_backends_agree():
    a = edgevid.load("orientation", backend="onnxruntime", variant="fp32")
    b = edgevid.load("orientation", backend="openvino", precision="f32", variant="fp32")
    for img, _ in _lines():
        ra, rb = a(img), b(img)
        assert ra.angle == rb.angle and abs(ra.score - rb.score) < 1e-3


def test_roi_selects_the_line_in_a_larger_frame():
    img, _ = _lines()[1]  # upside down
    frame = cv2.resize(cv2.cvtColor(skdata.brick(), cv2.COLOR_GRAY2BGR), (640, 480))
    frame[100:100 + img.shape[0], 50:50 + img.shape[1]] = img
    roi = (50, 100, 50 + img.shape[1], 100 + img.shape[0])
    assert edgevid.load("orientation", roi=roi)(frame).angle == 180


def test_bad_roi_is_a_config_error():
    with pytest.raises(edgevid.EdgevidError):
        edgevid.load("orientation", roi=(1, 2))


def test_accuracy_metric_compares_angles_not_scores():
    """The bench and ``edgevid build`` score a variant by whether it reads the same angle: a probability that
    differs in the fourth decimal is the same answer, the other angle is not."""
    from edgevid.bench.accuracy import agreement, metric_name
    from edgevid_orientation.task import Orientation

    ref = [Orientation(0, 0.9912), Orientation(180, 0.97)]
    assert agreement(ref, [Orientation(0, 0.9871), Orientation(180, 0.9)]) == 1.0
    assert agreement(ref, [Orientation(0, 0.9912), Orientation(0, 0.6)]) == 0.5
    assert metric_name(ref[0]) == "same angle"
