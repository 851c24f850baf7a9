"""Text detection around the PP-OCR DB model: input sizing, normalisation and box extraction.

The detector outputs a per-pixel text probability map. Boxes come from it the way the DB
paper and PaddleOCR do it: binarise, take contours, fit a minimum-area rotated rectangle,
score it by the mean probability inside, then grow it back ("unclip") because the model
is trained to predict a shrunk text kernel.
"""

from __future__ import annotations

import cv2
import numpy as np

#: ImageNet statistics, applied to the channels in the order the model was trained on (see task.COLOR)
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def det_size(height: int, width: int, limit: int) -> tuple[int, int]:
    """Model input (h, w): aspect kept, long side at most ``limit``, each side a multiple of 32 (at least 32)."""
    ratio = min(1.0, limit / max(height, width))
    return (max(32, int(round(height * ratio / 32)) * 32), max(32, int(round(width * ratio / 32)) * 32))


def det_tensor(image: np.ndarray, limit: int, size: tuple[int, int] | None = None, nchw: bool = True) -> np.ndarray:
    """``HxWx3`` uint8 image -> ``1x3xhxw`` (or ``1xhxwx3``) float32, ImageNet-normalised, resized by
    :func:`det_size`, or stretched to ``size`` for a detector converted with a fixed input (the map is
    scaled back to the frame per axis either way)."""
    h, w = size or det_size(image.shape[0], image.shape[1], limit)
    resized = cv2.resize(image, (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    x = (resized * np.float32(1 / 255) - MEAN) / STD
    return np.ascontiguousarray((x.transpose(2, 0, 1) if nchw else x)[None])


def order_quad(points: np.ndarray) -> np.ndarray:
    """Order 4 points clockwise from the top-left: of the two leftmost, the upper is first."""
    pts = np.asarray(points, np.float32).reshape(4, 2)
    by_x = pts[np.argsort(pts[:, 0], kind="stable")]
    left, right = by_x[:2], by_x[2:]
    tl, bl = left[np.argsort(left[:, 1], kind="stable")]
    tr, br = right[np.argsort(right[:, 1], kind="stable")]
    return np.stack([tl, tr, br, bl])


def _box_score(prob: np.ndarray, quad: np.ndarray) -> float:
    """Mean probability inside ``quad`` (PaddleOCR's "fast" score: the fitted box, not the contour)."""
    h, w = prob.shape
    x0 = int(np.clip(np.floor(quad[:, 0].min()), 0, w - 1))
    x1 = int(np.clip(np.ceil(quad[:, 0].max()), 0, w - 1))
    y0 = int(np.clip(np.floor(quad[:, 1].min()), 0, h - 1))
    y1 = int(np.clip(np.ceil(quad[:, 1].max()), 0, h - 1))
    mask = np.zeros((y1 - y0 + 1, x1 - x0 + 1), np.uint8)
    cv2.fillPoly(mask, [np.round(quad - (x0, y0)).astype(np.int32)], 1)
    return float(cv2.mean(prob[y0 : y1 + 1, x0 : x1 + 1], mask)[0])


def _unclip(rect, ratio: float):
    """Grow a rotated rectangle by the Vatti offset distance ``area * ratio / perimeter``.

    PaddleOCR offsets the polygon with pyclipper (round joins) and refits a minimum-area
    rectangle; for a rectangle that refit is exactly the rectangle grown by the distance on
    every side, so it is computed in closed form here.
    """
    (cx, cy), (rw, rh), angle = rect
    d = rw * rh * ratio / max(2.0 * (rw + rh), 1e-6)
    return (cx, cy), (rw + 2 * d, rh + 2 * d), angle


def boxes_from_map(
    prob: np.ndarray,
    src_hw: tuple[int, int],
    *,
    thresh: float = 0.3,
    box_thresh: float = 0.6,
    unclip_ratio: float = 1.5,
    max_candidates: int = 1000,
    min_size: float = 3.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Probability map (h,w) -> quads (n,4,2) in source pixels (clockwise from top-left) and scores (n,)."""
    mh, mw = prob.shape
    bitmap = (prob > thresh).astype(np.uint8)
    contours, _ = cv2.findContours(bitmap, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    sy, sx = src_hw[0] / mh, src_hw[1] / mw
    quads, scores = [], []
    for contour in contours[:max_candidates]:
        rect = cv2.minAreaRect(contour)
        if min(rect[1]) < min_size:
            continue
        quad = order_quad(cv2.boxPoints(rect))
        score = _box_score(prob, quad)
        if score < box_thresh:
            continue
        grown = _unclip(rect, unclip_ratio)
        if min(grown[1]) < min_size + 2:
            continue
        quad = order_quad(cv2.boxPoints(grown)) * np.float32((sx, sy))
        quad[:, 0] = np.clip(quad[:, 0], 0, src_hw[1])
        quad[:, 1] = np.clip(quad[:, 1], 0, src_hw[0])
        # after clipping to the frame a sliver may remain: PaddleOCR drops sides of 3 px or less
        if min(np.linalg.norm(quad[0] - quad[1]), np.linalg.norm(quad[0] - quad[3])) <= 3:
            continue
        quads.append(quad)
        scores.append(score)
    if not quads:
        return np.zeros((0, 4, 2), np.float32), np.zeros((0,), np.float32)
    return np.stack(quads).astype(np.float32), np.asarray(scores, np.float32)


def reading_order(quads: np.ndarray, line_tol: float = 10.0) -> np.ndarray:
    """Indices sorting quads top-to-bottom, then left-to-right among those within ``line_tol`` px vertically."""
    if len(quads) == 0:
        return np.zeros((0,), np.intp)
    tl = quads[:, 0, :]
    order = list(np.lexsort((tl[:, 0], tl[:, 1])))
    # one bubble pass per element: boxes on the same line (close tops) go left to right
    for i in range(len(order) - 1):
        for j in range(i, -1, -1):
            a, b = order[j], order[j + 1]
            if abs(tl[b, 1] - tl[a, 1]) < line_tol and tl[b, 0] < tl[a, 0]:
                order[j], order[j + 1] = b, a
            else:
                break
    return np.asarray(order, np.intp)
