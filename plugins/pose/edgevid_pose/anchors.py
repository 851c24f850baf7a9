"""BlazePose detector decoding: the MediaPipe SSD contract (``edgevid.vision.ssd``) with BlazePose's options.

From MediaPipe's ``pose_detection_cpu.pbtxt``: a 224x224 letterboxed input, 5 anchor layers with
strides 8, 16, 32, 32, 32, two fixed-size anchors per cell and layer, and 4 keypoints per anchor.
Keypoint 0 is the hip centre, 1 a point whose distance from it is the radius of a circle enclosing
the whole body (2 and 3: the same for the upper body).
"""

from __future__ import annotations

import numpy as np

from edgevid.vision.ssd import RawDetections, weighted_nms
from edgevid.vision.ssd import anchors as _anchors
from edgevid.vision.ssd import decode as _decode

INPUT_SIZE = 224
STRIDES = (8, 16, 32, 32, 32)
NUM_KEYPOINTS = 4

__all__ = ["INPUT_SIZE", "NUM_KEYPOINTS", "STRIDES", "RawDetections", "decode", "ssd_anchors", "weighted_nms"]


def ssd_anchors(size: int = INPUT_SIZE) -> np.ndarray:
    """BlazePose's anchor centres (2254, 2) for a ``size`` input."""
    return _anchors(size, STRIDES, 2)


def decode(regressors: np.ndarray, logits: np.ndarray, threshold: float, size: int = INPUT_SIZE) -> RawDetections:
    """Decode raw outputs ``(1, A, 12)`` and ``(1, A, 1)`` into person detections scoring at least ``threshold``."""
    return _decode(regressors, logits, ssd_anchors(size), size, NUM_KEYPOINTS, threshold)
