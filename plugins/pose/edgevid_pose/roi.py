"""Regions of interest: the rotated square around a person, and the image warps in and out of it.

Coordinates are continuous source pixels: pixel ``(i, j)`` covers ``[j, j+1) x [i, i+1)``, so
its centre is at ``j + 0.5``. OpenCV's warps index pixel centres at integers; the half-pixel
shifts below convert between the two.

The ROI follows MediaPipe's alignment-points rule (``pose_detection_to_roi.pbtxt`` and
``pose_landmarks_to_roi.pbtxt``): the square is centred on the hip centre, its side is twice
the distance to the body-scale point, rotated so that the hip -> scale-point vector points up
(target angle 90 degrees), then enlarged 1.25x.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

ROI_SCALE = 1.25
TARGET_ANGLE = math.pi / 2


@dataclass(frozen=True)
class Roi:
    """A rotated square: centre (x, y) and side in source pixels, ``rotation`` in radians.

    A point ``(u, v)`` of the upright crop, relative to its centre, lies at
    ``centre + R(rotation) @ (u, v)`` in the source (image y axis points down).
    """

    cx: float
    cy: float
    size: float
    rotation: float

    def corners(self) -> np.ndarray:
        """The 4 corners (4, 2) in source pixels: top-left, top-right, bottom-right, bottom-left of the crop."""
        h = self.size / 2
        local = np.array([[-h, -h], [h, -h], [h, h], [-h, h]], np.float64)
        return local @ _rot(self.rotation).T + (self.cx, self.cy)

    def bounds(self) -> np.ndarray:
        """Axis-aligned box ``xyxy`` enclosing the rotated square."""
        c = self.corners()
        return np.concatenate([c.min(axis=0), c.max(axis=0)])


def _rot(theta: float) -> np.ndarray:
    c, s = math.cos(theta), math.sin(theta)
    return np.array([[c, -s], [s, c]])


def normalize_radians(a: float) -> float:
    """Angle wrapped into [-pi, pi)."""
    return a - 2 * math.pi * math.floor((a + math.pi) / (2 * math.pi))


def roi_from_alignment(center, scale_point, scale: float = ROI_SCALE) -> Roi | None:
    """The ROI from an alignment pair (hip centre, body-scale point) in source pixels; ``None`` if degenerate."""
    (x0, y0), (x1, y1) = np.asarray(center, float), np.asarray(scale_point, float)
    radius = math.hypot(x1 - x0, y1 - y0)
    if not math.isfinite(radius) or radius < 1e-3:
        return None
    # atan2 on -dy: angles measured counter-clockwise with y up, as MediaPipe does
    rotation = normalize_radians(TARGET_ANGLE - math.atan2(-(y1 - y0), x1 - x0))
    return Roi(float(x0), float(y0), 2 * radius * scale, rotation)


def crop_to_source(roi: Roi, out_size: int) -> np.ndarray:
    """2x3 affine taking continuous crop coordinates (0..out_size) to continuous source pixels."""
    a = _rot(roi.rotation) * (roi.size / out_size)
    b = np.array([roi.cx, roi.cy]) - a @ np.array([out_size / 2, out_size / 2])
    return np.hstack([a, b[:, None]])


def warp_roi(image: np.ndarray, roi: Roi, out_size: int) -> np.ndarray:
    """The upright ``out_size`` square crop of ``roi`` (bilinear, edges replicated as MediaPipe does)."""
    import cv2

    m = crop_to_source(roi, out_size)
    # OpenCV maps integer dst indices to integer src indices: shift both by half a pixel
    m_int = m.copy()
    m_int[:, 2] = m[:, 2] + m[:, :2] @ np.array([0.5, 0.5]) - 0.5
    return cv2.warpAffine(image, m_int, (out_size, out_size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)


def apply(m: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine to points (..., 2)."""
    pts = np.asarray(points, np.float64)
    return pts @ m[:, :2].T + m[:, 2]
