"""Text recognition inputs: straighten each detected quad into a line crop and batch crops for the recogniser."""

from __future__ import annotations

import math
from collections.abc import Iterator

import cv2
import numpy as np

#: the recogniser's input height, and the narrowest batch width it was trained around (PP-OCRv4: 3x48x320)
HEIGHT = 48
MIN_WIDTH = 320


def crop_quad(image: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """Perspective-warp the quad (clockwise from top-left) to an upright rectangle; tall results are turned 90°."""
    q = np.asarray(quad, np.float32)
    w = max(1, int(max(np.linalg.norm(q[0] - q[1]), np.linalg.norm(q[3] - q[2]))))
    h = max(1, int(max(np.linalg.norm(q[0] - q[3]), np.linalg.norm(q[1] - q[2]))))
    dst = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    crop = cv2.warpPerspective(image, cv2.getPerspectiveTransform(q, dst), (w, h),
                               flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    # a line much taller than wide is vertical text: read it along its length, as PaddleOCR does
    if h / w >= 1.5:
        crop = np.ascontiguousarray(np.rot90(crop))
    return crop


def _normalised(crop: np.ndarray, height: int, width: int) -> np.ndarray:
    """One crop -> ``3 x height x width``: aspect-keeping resize, scaled to [-1, 1], zero (grey) padded right."""
    h, w = crop.shape[:2]
    resized_w = min(width, max(1, math.ceil(height * w / h)))
    resized = cv2.resize(crop, (resized_w, height), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    out = np.zeros((3, height, width), np.float32)
    out[:, :, :resized_w] = (resized * np.float32(2 / 255) - 1).transpose(2, 0, 1)
    return out


def batches(crops: list[np.ndarray], batch_size: int = 6, *, height: int = HEIGHT,
            width: int | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (indices, ``Nx3xHxW`` tensor) for crops grouped by similar aspect ratio.

    Sorting by width/height keeps padding small inside a batch. With ``width=None`` (the
    recogniser) ``W`` fits the batch's widest crop, never below 320, the training width; a fixed
    ``width`` (the direction classifier's 192) squeezes longer crops into it.
    """
    ratios = np.array([c.shape[1] / max(c.shape[0], 1) for c in crops], np.float64)
    order = np.argsort(ratios, kind="stable")
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        w = width or max(MIN_WIDTH, int(math.ceil(height * ratios[idx].max())))
        yield idx, np.stack([_normalised(crops[i], height, w) for i in idx])
