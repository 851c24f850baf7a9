"""MediaPipe-style SSD decoding: anchors, box + keypoint regression, sigmoid scores, weighted NMS.

MediaPipe's single-class detectors (BlazeFace, BlazePose, palm) share one contract: fixed-size
(1x1) anchors centred on each feature-map cell, and per anchor a box centre x, y, width, height
then K keypoints (x, y), all in input pixels relative to the anchor centre. Consecutive layers
with the same stride share a feature map, so their anchors are emitted together per cell.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

SCORE_CLIP = 100.0  # logits are clipped before the sigmoid, as MediaPipe does


@lru_cache(maxsize=16)
def anchors(size: int, strides: tuple[int, ...], per_layer: int = 2) -> np.ndarray:
    """Anchor centres (n, 2) as x, y normalised to a square ``size`` input, in the model's emission order.

    ``per_layer`` is anchors per cell per layer: 2 when MediaPipe's interpolated scale is on
    (aspect ratio 1.0 plus the interpolated anchor), 1 otherwise.
    """
    out = []
    i = 0
    while i < len(strides):
        j = i
        while j < len(strides) and strides[j] == strides[i]:
            j += 1
        fm = int(np.ceil(size / strides[i]))
        ys, xs = np.mgrid[0:fm, 0:fm]
        centres = np.stack([(xs + 0.5) / fm, (ys + 0.5) / fm], axis=-1).reshape(-1, 1, 2)
        out.append(np.repeat(centres, per_layer * (j - i), axis=1).reshape(-1, 2))
        i = j
    return np.concatenate(out).astype(np.float32)


@dataclass
class RawDetections:
    """Decoded detections in normalised input coordinates: boxes (n,4) xyxy, keypoints (n,k,2), scores (n,)."""

    boxes: np.ndarray
    keypoints: np.ndarray
    scores: np.ndarray

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    @classmethod
    def empty(cls, num_keypoints: int) -> RawDetections:
        """No detections."""
        return cls(np.zeros((0, 4), np.float32), np.zeros((0, num_keypoints, 2), np.float32), np.zeros((0,), np.float32))

    def select(self, index) -> RawDetections:
        """The detections at ``index`` (boolean mask or indices)."""
        return RawDetections(self.boxes[index], self.keypoints[index], self.scores[index])

    def concat(self, other: RawDetections) -> RawDetections:
        """Both sets together (e.g. detections from several tiles, in a common frame)."""
        return RawDetections(np.concatenate([self.boxes, other.boxes]), np.concatenate([self.keypoints, other.keypoints]),
                             np.concatenate([self.scores, other.scores]))


def sigmoid_scores(logits: np.ndarray) -> np.ndarray:
    """Clipped logistic function of raw score logits, without exp overflow."""
    clipped = np.clip(np.asarray(logits, np.float32).reshape(-1), -SCORE_CLIP, SCORE_CLIP)
    return 0.5 * (1.0 + np.tanh(0.5 * clipped))


def decode(regressors: np.ndarray, logits: np.ndarray, anchor_xy: np.ndarray, size: int,
           num_keypoints: int, threshold: float) -> RawDetections:
    """Decode raw outputs ``(1, A, 4+2K)`` and ``(1, A, 1)`` into detections scoring at least ``threshold``."""
    width = 4 + 2 * num_keypoints
    reg = np.asarray(regressors, np.float32).reshape(-1, width)
    if reg.shape[0] != anchor_xy.shape[0]:
        raise ValueError(f"model emitted {reg.shape[0]} anchors, expected {anchor_xy.shape[0]} for a {size} input")
    scores = sigmoid_scores(logits)
    keep = np.flatnonzero(scores >= threshold)
    reg, anc = reg[keep] / size, anchor_xy[keep]
    centre = reg[:, 0:2] + anc
    half = reg[:, 2:4] / 2
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    kps = reg[:, 4:].reshape(-1, num_keypoints, 2) + anc[:, None, :]
    return RawDetections(boxes, kps, scores[keep])


def _iou_one(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    lt = np.maximum(box[:2], boxes[:, :2])
    rb = np.minimum(box[2:], boxes[:, 2:])
    inter = np.clip(rb - lt, 0, None).prod(axis=1)
    area_a = np.clip(box[2:] - box[:2], 0, None).prod()
    area_b = np.clip(boxes[:, 2:] - boxes[:, :2], 0, None).prod(axis=1)
    union = area_a + area_b - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def max_iou(boxes: np.ndarray, others: np.ndarray) -> np.ndarray:
    """For each of ``boxes`` (n,4), its highest IoU with any of ``others`` (m,4); 0 when ``others`` is empty."""
    if len(others) == 0:
        return np.zeros(len(boxes))
    return np.array([_iou_one(b, others).max() for b in boxes])


def weighted_nms(dets: RawDetections, iou_threshold: float = 0.3, max_out: int | None = None) -> RawDetections:
    """Blend overlapping detections (MediaPipe's WEIGHTED suppression).

    Each cluster (IoU above the threshold with its best member) becomes the score-weighted mean
    of its boxes and keypoints, keeping the best score. Works in any common coordinate frame.
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
        return RawDetections.empty(dets.keypoints.shape[1])
    return RawDetections(np.array(out_b, np.float32), np.array(out_k, np.float32), np.array(out_s, np.float32))
