"""Text recognition inputs: straighten each detected quad into a line crop and batch crops for the recogniser."""

from __future__ import annotations

import itertools
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


def _own_width(crop: np.ndarray, height: int) -> int:
    """The crop's width once resized to ``height`` with its aspect kept."""
    h, w = crop.shape[:2]
    return max(1, math.ceil(height * w / max(h, 1)))


def _normalised(crop: np.ndarray, height: int, width: int) -> np.ndarray:
    """One crop -> ``3 x height x width``: aspect-keeping resize, scaled to [-1, 1], zero (grey) padded right."""
    resized_w = min(width, _own_width(crop, height))
    resized = cv2.resize(crop, (resized_w, height), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    out = np.zeros((3, height, width), np.float32)
    out[:, :, :resized_w] = (resized * np.float32(2 / 255) - 1).transpose(2, 0, 1)
    return out


def batches(crops: list[np.ndarray], batch_size: int = 6, *, height: int = HEIGHT,
            width: int | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (indices, ``Nx3xHxW`` tensor) for up to ``batch_size`` crops at a time.

    With ``width=None`` (the recogniser) each crop is read at its own width, never below 320, the
    training width, and batched only with crops of that same width: padded to a wider neighbour, a line
    reads differently (PP-OCRv4 drops more spaces), so a line's text would depend on what else is in
    the frame. A fixed ``width`` (the direction classifier's 192) squeezes longer crops into it; a
    recogniser converted to a fixed width reads them with :func:`windows` instead.
    """
    widths = [width or max(MIN_WIDTH, _own_width(c, height)) for c in crops]
    for w, same in itertools.groupby(sorted(range(len(crops)), key=widths.__getitem__), key=widths.__getitem__):
        same = list(same)
        for start in range(0, len(same), batch_size):
            idx = np.asarray(same[start : start + batch_size])
            yield idx, np.stack([_normalised(crops[i], height, w) for i in idx])


def windows(crop: np.ndarray, width: int, *, height: int = HEIGHT) -> np.ndarray:
    """One crop as ``K x 3 x height x width`` overlapping windows (:func:`edgevid.vision.lines.windows`), for a
    recogniser of fixed ``width``: resized with its aspect kept, never squeezed, and padded as in :func:`batches`."""
    from edgevid.vision import lines

    return lines.windows(_normalised(crop, height, max(width, _own_width(crop, height))), width)
