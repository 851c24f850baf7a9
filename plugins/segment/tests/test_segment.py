"""Person segmentation on a real person pasted at known places: region IoU, motion, empty scenes, backends."""

from __future__ import annotations

import numpy as np
import pytest

import edgevid
from edgevid.errors import ConfigError
from edgevid.tasks.results import rle_decode
from edgevid.testing import scenes_segment as ss

pytest.importorskip("cv2")


def region_mask(scene) -> np.ndarray:
    m = np.zeros(scene.image.shape[:2], bool)
    if scene.region:
        x1, y1, x2, y2 = scene.region
        m[y1:y2, x1:x2] = True
    return m


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


@pytest.fixture(scope="module")
def seg():
    return edgevid.load("segment", threads=2)


@pytest.mark.parametrize("bg", ["brick", "grass", "coffee"])
def test_mask_lies_in_the_person_region_and_covers_it(seg, bg):
    s = ss.compose(bg, 480, 640, 200, 400)
    m = seg(s.image)
    assert m.mask.shape == (480, 640)  # source resolution
    region = region_mask(s)
    inside = np.logical_and(m.mask, region).sum() / max(1, m.mask.sum())
    assert inside >= 0.97, inside  # measured 0.99+: nothing is called person on the background
    assert iou(m.mask, region) >= 0.55  # measured 0.58-0.8: the crop is mostly person, partly wall


def test_mask_follows_the_person(seg):
    scenes = ss.walk(frames=6, step=30)
    masks = [seg(s.image).mask for s in scenes]
    for a, b in zip(masks, masks[1:]):
        shifted = np.zeros_like(a)
        shifted[:, 30:] = a[:, :-30]
        assert iou(shifted, b) >= 0.8  # measured >= 0.82: edges move a little over textured ground
    cx = [np.nonzero(m)[1].mean() for m in masks]
    assert cx[-1] - cx[0] == pytest.approx(150, abs=15)  # 5 steps of 30 px
    assert all(d > 0 for d in np.diff(cx))


@pytest.mark.parametrize("bg", ["brick", "grass", "rocket"])
def test_no_person_gives_an_almost_empty_mask(seg, bg):
    m = seg(ss.empty(bg).image)
    assert m.area / m.mask.size < 0.01


def test_wide_frames_use_the_landscape_model_and_map_back(seg):
    s = ss.compose("grass", 720, 1280, 500, 600)
    assert seg.role_for(720, 1280) == "landscape" and seg.role_for(480, 640) == "general"
    m = seg(s.image)
    assert m.mask.shape == (720, 1280)
    region = region_mask(s)
    assert np.logical_and(m.mask, region).sum() / max(1, m.mask.sum()) >= 0.95
    assert iou(m.mask, region) >= 0.6


def test_jsonl_payload_round_trips(seg):
    s = ss.compose("brick", 480, 640, 200, 400)
    m = seg(s.image)
    d = m.to_dict()
    assert d["mask_area"] == m.area > 0
    assert np.array_equal(rle_decode(d["mask"]), m.mask)


def test_smoothing_blends_with_the_previous_frame():
    t = edgevid.load("segment", model="general", smoothing=0.5)
    a, b = ss.walk(frames=2, step=60)
    t(a.image)
    smooth = t(b.image).probability
    raw = edgevid.load("segment", model="general")(b.image).probability
    prev = edgevid.load("segment", model="general")(a.image).probability
    np.testing.assert_allclose(smooth, 0.5 * raw + 0.5 * prev, atol=1e-5)


def test_backends_that_cannot_run_it_are_rejected_with_the_reason():
    with pytest.raises(ConfigError, match="Convolution2DTransposeBias"):
        edgevid.plan("segment", backend="openvino")
    with pytest.raises(ConfigError, match="does not read tflite"):
        edgevid.plan("segment", backend="onnxruntime")
    # and OpenVINO really cannot read the file: the card's reason is not a guess
    from edgevid.errors import UnsupportedModelError
    from edgevid.models import store
    from edgevid.registry import get_registry

    path = store.fetch(edgevid.plan("segment")["general"].variant)
    with pytest.raises(UnsupportedModelError):
        get_registry().backend("openvino").load(path)


def test_bad_options():
    with pytest.raises(ConfigError):
        edgevid.load("segment", model="portrait")
    with pytest.raises(ConfigError):
        edgevid.load("segment", threshold=1.5)
