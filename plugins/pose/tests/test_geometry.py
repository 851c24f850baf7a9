"""The pure parts: anchors, decoding, weighted NMS, ROI rotation and the warps in and out of it."""

from __future__ import annotations

import math

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")

from edgevid import TensorSpec
from edgevid.errors import UnsupportedModelError
from edgevid.testing import scenes_pose
from edgevid.vision.image import Letterbox
from edgevid_pose import anchors, landmarks, roi


def test_anchor_layout_matches_the_model():
    a = anchors.ssd_anchors()
    assert a.shape == (2254, 2)  # 28*28*2 + 14*14*2 + 7*7*6
    assert np.allclose(a[0], [0.5 / 28, 0.5 / 28]) and np.allclose(a[1], a[0])  # 2 anchors per cell
    assert np.allclose(a[1568], [0.5 / 14, 0.5 / 14])
    assert np.allclose(a[1960:1966], [0.5 / 7, 0.5 / 7]) and np.allclose(a[-1], [6.5 / 7, 6.5 / 7])


def test_decode_and_weighted_nms_blend_a_cluster():
    reg = np.zeros((1, 2254, 12), np.float32)
    logits = np.full((1, 2254, 1), -10.0, np.float32)
    reg[0, [0, 1], 2:4] = 40.0  # two 40-px boxes on the first cell, offsets 0 and +4 px in x
    reg[0, 1, 0] = 4.0
    logits[0, [0, 1], 0] = [3.0, 1.0]
    dets = anchors.decode(reg, logits, threshold=0.5)
    assert len(dets) == 2
    out = anchors.weighted_nms(dets, 0.3)
    assert len(out) == 1
    w = 1 / (1 + math.exp(-1)) / (1 / (1 + math.exp(-3)) + 1 / (1 + math.exp(-1)))
    assert out.boxes[0, 0] == pytest.approx((0.5 / 28 * 224 - 20 + 4 * w) / 224, abs=1e-6)
    assert out.scores[0] == pytest.approx(1 / (1 + math.exp(-3)), abs=1e-6)


@pytest.mark.parametrize(("vector", "degrees"), [((0, -1), 0), ((1, 0), 90), ((0, 1), 180), ((-1, -1), -45)])
def test_roi_rotation_makes_the_alignment_vector_point_up(vector, degrees):
    r = roi.roi_from_alignment((100, 200), (100 + 50 * vector[0], 200 + 50 * vector[1]))
    assert abs(roi.normalize_radians(r.rotation - math.radians(degrees))) < 1e-9
    assert r.size == pytest.approx(2 * 50 * math.hypot(*vector) * 1.25)
    # the scale point must appear straight above the centre of the upright crop
    m = roi.crop_to_source(r, 256)
    inv = np.linalg.inv(np.vstack([m, [0, 0, 1]]))[:2]
    up = roi.apply(inv, np.array([100 + 50 * vector[0], 200 + 50 * vector[1]], float))
    assert up == pytest.approx([128, 128 - 256 / 2.5], abs=1e-6)


def test_warp_and_inverse_map_agree_on_a_real_image():
    img = scenes_pose.person()
    r = roi.Roi(256.0, 200.0, 300.0, math.radians(25))
    crop = roi.warp_roi(img, r, 256)
    m = roi.crop_to_source(r, 256)
    vs, us = np.mgrid[0:256:7, 0:256:7]
    xy = roi.apply(m, np.stack([us + 0.5, vs + 0.5], axis=-1))  # crop pixel centres -> continuous source
    # bilinear sampling of the source there (OpenCV indexes pixel centres at integers)
    sampled = cv2.remap(img, (xy[..., 0] - 0.5).astype(np.float32), (xy[..., 1] - 0.5).astype(np.float32),
                        cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    diff = np.abs(crop[vs, us].astype(int) - sampled.astype(int))
    assert diff.max() <= 2, diff.max()


def test_letterbox_round_trip():
    lb = Letterbox.fit(480, 640, 224)
    assert (lb.pad_x, lb.pad_y) == (0, 28)
    pts = np.array([[0.0, 0.0], [640.0, 480.0], [123.4, 56.7]])
    norm = np.stack([(pts[:, 0] * lb.scale_x + lb.pad_x) / 224, (pts[:, 1] * lb.scale_y + lb.pad_y) / 224], axis=1)
    assert lb.to_source(norm) == pytest.approx(pts)


def test_landmark_outputs_found_by_shape_not_name():
    specs = [TensorSpec("world", (1, 117), "float32"), TensorSpec("hm", (1, 39, 64, 64), "float32"),
             TensorSpec("seg", (1, 1, 256, 256), "float32"), TensorSpec("flag", (1, 1), "float32"),
             TensorSpec("ld", (1, 195), "float32")]
    m = landmarks.map_outputs(specs)
    assert (m.landmarks, m.flag, m.heatmap, m.heatmap_nchw) == ("ld", "flag", "hm", True)
    with pytest.raises(UnsupportedModelError):
        landmarks.map_outputs(specs[:3])


def test_bad_options_and_missing_models_are_config_errors():
    from edgevid.errors import ConfigError
    from edgevid_pose import PoseTask

    with pytest.raises(ConfigError):
        PoseTask(None, presence_threshold=1.5)
    with pytest.raises(ConfigError):
        PoseTask(None)(scenes_pose.person())
