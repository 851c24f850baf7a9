"""BlazePose detector decoding: SSD anchors, box/keypoint regression, sigmoid scores, weighted NMS.

The detector's contract (MediaPipe ``pose_detection_cpu.pbtxt``): a 224x224 letterboxed input,
5 anchor layers with strides 8, 16, 32, 32, 32, two fixed-size (1x1) anchors per cell, and 12
regressed values per anchor: box centre x, y, width, height, then 4 keypoints (x, y) in input
pixels relative to the anchor centre. Keypoint 0 is the hip centre, 1 a point whose distance from
it is the radius of a circle enclosing the whole body (2 and 3: the same for the upper body).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

INPUT_SIZE = 224
STRIDES = (8, 16, 32, 32, 32)
ANCHORS_PER_CELL = 2  # aspect ratio 1.0 plus the interpolated-scale anchor, both fixed size 1x1
NUM_KEYPOINTS = 4
SCORE_CLIP = 100.0  # logits are clipped before the sigmoid, as MediaPipe does


@lru_cache(maxsize=4)
def ssd_anchors(size: int = INPUT_SIZE, strides: tuple[int, ...] = STRIDES) -> np.ndarray:
    """Anchor centres (n, 2) as x, y normalised to the input, in the order the model emits them.

    Consecutive layers with the same stride share one feature map, so their anchors are emitted
    together per cell (the 3 layers of stride 32 give 6 anchors per 7x7 cell).
    """
    out = []
    i = 0
    while i < len(strides):
        j = i
        while j < len(strides) and strides[j] == strides[i]:
            j += 1
        fm = int(np.ceil(size / strides[i]))
        per_cell = ANCHORS_PER_CELL * (j - i)
        ys, xs = np.mgrid[0:fm, 0:fm]
        centres = np.stack([(xs + 0.5) / fm, (ys + 0.5) / fm], axis=-1).reshape(-1, 1, 2)
        out.append(np.repeat(centres, per_cell, axis=1).reshape(-1, 2))
        i = j
    return np.concatenate(out).astype(np.float32)


@dataclass
class RawDetections:
    """Detector output in normalised input coordinates: boxes (n,4) xyxy, keypoints (n,4,2), scores (n,)."""

    boxes: np.ndarray
    keypoints: np.ndarray
    scores: np.ndarray

    def __len__(self) -> int:
        return int(self.scores.shape[0])


def decode(regressors: np.ndarray, logits: np.ndarray, threshold: float, size: int = INPUT_SIZE) -> RawDetections:
    """Decode raw outputs ``(1|n, A, 12)`` and ``(1|n, A, 1)`` into detections scoring at least ``threshold``."""
    reg = np.asarray(regressors, np.float32).reshape(-1, 4 + 2 * NUM_KEYPOINTS)
    anchors = ssd_anchors(size)
    if reg.shape[0] != anchors.shape[0]:
        raise ValueError(f"detector emitted {reg.shape[0]} anchors, expected {anchors.shape[0]} for a {size} input")
    clipped = np.clip(np.asarray(logits, np.float32).reshape(-1), -SCORE_CLIP, SCORE_CLIP)
    scores = 0.5 * (1.0 + np.tanh(0.5 * clipped))  # the logistic function, without exp overflow
    keep = np.flatnonzero(scores >= threshold)
    reg, anc = reg[keep] / size, anchors[keep]
    centre = reg[:, 0:2] + anc
    half = reg[:, 2:4] / 2
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    kps = reg[:, 4:].reshape(-1, NUM_KEYPOINTS, 2) + anc[:, None, :]
    return RawDetections(boxes, kps, scores[keep])


def _iou_one(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    lt = np.maximum(box[:2], boxes[:, :2])
    rb = np.minimum(box[2:], boxes[:, 2:])
    inter = np.clip(rb - lt, 0, None).prod(axis=1)
    area = lambda b: np.clip(b[..., 2:] - b[..., :2], 0, None).prod(axis=-1)  # noqa: E731
    union = area(box) + area(boxes) - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def weighted_nms(dets: RawDetections, iou_threshold: float = 0.3, max_out: int | None = None) -> RawDetections:
    """Blend overlapping detections: each cluster (IoU > threshold with its best member) is averaged,
    boxes and keypoints weighted by score, keeping the best score (MediaPipe's WEIGHTED algorithm).

    One vectorised IoU per surviving cluster; the number of clusters is small.
    """
    order = np.argsort(-dets.scores, kind="stable")
    boxes, kps, scores = dets.boxes[order], dets.keypoints[order], dets.scores[order]
    alive = np.ones(len(scores), bool)
    out_b, out_k, out_s = [], [], []
    for i in range(len(scores)):
        if not alive[i]:
            continue
        members = alive & (_iou_one(boxes[i], boxes) > iou_threshold)
        members[i] = True
        w = scores[members] / scores[members].sum()
        out_b.append((boxes[members] * w[:, None]).sum(axis=0))
        out_k.append((kps[members] * w[:, None, None]).sum(axis=0))
        out_s.append(scores[i])
        alive &= ~members
        if max_out is not None and len(out_s) >= max_out:
            break
    if not out_s:
        return RawDetections(np.zeros((0, 4), np.float32), np.zeros((0, NUM_KEYPOINTS, 2), np.float32),
                             np.zeros((0,), np.float32))
    return RawDetections(np.array(out_b, np.float32), np.array(out_k, np.float32), np.array(out_s, np.float32))
