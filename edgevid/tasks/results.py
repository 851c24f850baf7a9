"""Result types shared by every task: parallel numpy arrays, coordinates in source-frame pixels.

Each type supports ``len``, boolean/index selection with ``[]``, and ``to_dict()`` which
returns the JSON-ready payload the JSONL sink writes under the task's ``result_key``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np


def _take(obj, idx):
    """Select rows of every per-item array field of a parallel-array dataclass."""
    n = len(obj)
    kw = {}
    for f in fields(obj):
        v = getattr(obj, f.name)
        if isinstance(v, np.ndarray) and v.ndim >= 1 and v.shape[0] == n:
            kw[f.name] = v[idx]
        elif isinstance(v, list) and len(v) == n:
            ix = np.arange(n)[idx]
            kw[f.name] = [v[i] for i in np.atleast_1d(ix)]
        else:
            kw[f.name] = v
    return type(obj)(**kw)


def _r(x: float, nd: int = 2) -> float:
    return round(float(x), nd)


@dataclass
class Detections:
    """Boxes ``xyxy`` (n,4) with ``score`` (n,), optional ``keypoints`` (n,k,2), ``class_id`` and ``tracker_id``."""

    xyxy: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    score: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.float32))
    keypoints: np.ndarray | None = None
    class_id: np.ndarray | None = None
    tracker_id: np.ndarray | None = None
    labels: list[str] | None = None

    def __len__(self) -> int:
        return int(self.xyxy.shape[0])

    def __getitem__(self, idx) -> Detections:
        return _take(self, idx)

    @classmethod
    def empty(cls) -> Detections:
        """No detections."""
        return cls()

    def to_dict(self) -> list[dict[str, Any]]:
        """``[{box, score, keypoints?, label?, track_id?}, ...]``."""
        out = []
        for i in range(len(self)):
            d: dict[str, Any] = {"box": [_r(v) for v in self.xyxy[i]], "score": _r(self.score[i], 4)}
            if self.keypoints is not None:
                d["keypoints"] = [[_r(x), _r(y)] for x, y in self.keypoints[i, :, :2]]
            if self.labels is not None:
                d["label"] = self.labels[i]
            if self.class_id is not None:
                d["class_id"] = int(self.class_id[i])
            if self.tracker_id is not None and self.tracker_id[i] >= 0:
                d["track_id"] = int(self.tracker_id[i])
            out.append(d)
        return out


@dataclass
class Poses:
    """Per person: ``xyxy`` (n,4), ``score`` (n,), ``keypoints`` (n,k,3) as x, y, visibility."""

    xyxy: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    score: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.float32))
    keypoints: np.ndarray = field(default_factory=lambda: np.zeros((0, 33, 3), np.float32))
    tracker_id: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.xyxy.shape[0])

    def __getitem__(self, idx) -> Poses:
        return _take(self, idx)

    def to_dict(self) -> list[dict[str, Any]]:
        """``[{box, score, keypoints: [[x, y, visibility], ...]}, ...]``."""
        out = []
        for i in range(len(self)):
            d = {
                "box": [_r(v) for v in self.xyxy[i]],
                "score": _r(self.score[i], 4),
                "keypoints": [[_r(x), _r(y), _r(v, 3)] for x, y, v in self.keypoints[i]],
            }
            if self.tracker_id is not None and self.tracker_id[i] >= 0:
                d["track_id"] = int(self.tracker_id[i])
            out.append(d)
        return out


@dataclass
class Texts:
    """Per text line: ``polygon`` (n,4,2), ``text`` list, ``score`` (n,). ``xyxy`` is derived."""

    polygon: np.ndarray = field(default_factory=lambda: np.zeros((0, 4, 2), np.float32))
    text: list[str] = field(default_factory=list)
    score: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.float32))

    def __len__(self) -> int:
        return int(self.polygon.shape[0])

    def __getitem__(self, idx) -> Texts:
        return _take(self, idx)

    @property
    def xyxy(self) -> np.ndarray:
        """Axis-aligned boxes enclosing each polygon."""
        if not len(self):
            return np.zeros((0, 4), np.float32)
        return np.concatenate([self.polygon.min(axis=1), self.polygon.max(axis=1)], axis=1)

    def to_dict(self) -> list[dict[str, Any]]:
        """``[{box, polygon, text, score}, ...]``."""
        boxes = self.xyxy
        return [
            {
                "box": [_r(v) for v in boxes[i]],
                "polygon": [[_r(x), _r(y)] for x, y in self.polygon[i]],
                "text": self.text[i],
                "score": _r(self.score[i], 4),
            }
            for i in range(len(self))
        ]


@dataclass
class Mask:
    """A binary ``mask`` (H,W) at source resolution, optionally with the soft ``probability`` map."""

    mask: np.ndarray
    probability: np.ndarray | None = None

    @property
    def area(self) -> int:
        """Number of foreground pixels."""
        return int(np.count_nonzero(self.mask))

    def to_dict(self) -> dict[str, Any]:
        """``{"mask": {size, counts}, "mask_area": n}`` with column-major RLE (COCO's convention)."""
        return {"mask": rle_encode(self.mask), "mask_area": self.area}


def rle_encode(mask: np.ndarray) -> dict[str, Any]:
    """Uncompressed COCO-style RLE: column-major run lengths, starting with a run of zeros."""
    flat = np.asarray(mask, dtype=bool).ravel(order="F")
    if flat.size == 0:
        return {"size": list(mask.shape), "counts": []}
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat[0]:
        counts = [0] + counts
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": counts}


def rle_decode(rle: dict[str, Any]) -> np.ndarray:
    """Inverse of :func:`rle_encode`."""
    h, w = rle["size"]
    values = np.zeros(h * w, dtype=bool)
    pos, val = 0, False
    for c in rle["counts"]:
        values[pos : pos + c] = val
        pos += c
        val = not val
    return values.reshape((h, w), order="F")


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of ``xyxy`` boxes: (n,4) x (m,4) -> (n,m)."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(axis=2)
    area_a = (a[:, 2:] - a[:, :2]).clip(0).prod(axis=1)
    area_b = (b[:, 2:] - b[:, :2]).clip(0).prod(axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)
