"""Accuracy against the reference: each configuration's results on the source frames vs the fp32 reference's.

The metric follows the result type, so any task is covered:

* detections — F1 of one-to-one matches at IoU 0.5;
* masks — mean IoU;
* texts — character accuracy of the strings (1 - normalised edit distance), matched by box;
* poses — share of the reference's visible keypoints within 5% of the person's box size;
* a plugin's own result type with an ``agreement(other)`` method (and a ``metric`` name) — its own answer;
* anything else with ``to_dict`` — share of frames whose JSON is identical.
"""

from __future__ import annotations

import difflib
import json

import numpy as np

from ..tasks.results import Detections, Mask, Poses, Texts, box_iou

METRICS = {Detections: "detection F1 @ IoU 0.5", Mask: "mask IoU", Texts: "character accuracy",
           Poses: "visible keypoints within 5% of box"}


def _match(a: np.ndarray, b: np.ndarray, iou: float = 0.5) -> list[tuple[int, int]]:
    if len(a) == 0 or len(b) == 0:
        return []
    m = box_iou(a, b)
    pairs, used = [], set()
    for i in np.argsort(-m.max(axis=1)):
        j = int(np.argmax(m[i]))
        if m[i, j] >= iou and j not in used:
            pairs.append((int(i), j))
            used.add(j)
    return pairs


def frame_score(ref, got) -> float:
    """Agreement of one frame's result with the reference's, in [0, 1]."""
    if hasattr(ref, "agreement"):
        # a plugin's result type knows what makes two of its results the same answer (a class, not a score)
        return float(ref.agreement(got))
    if isinstance(ref, Detections):
        if len(ref) == 0 and len(got) == 0:
            return 1.0
        tp = len(_match(ref.xyxy, got.xyxy))
        return 2 * tp / (len(ref) + len(got))
    if isinstance(ref, Mask):
        a, b = ref.mask.astype(bool), got.mask.astype(bool)
        union = np.logical_or(a, b).sum()
        return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)
    if isinstance(ref, Texts):
        pairs = _match(ref.xyxy, got.xyxy)
        total = sum(len(t) for t in ref.text) or 1
        same = sum(difflib.SequenceMatcher(None, ref.text[i], got.text[j]).ratio() * len(ref.text[i]) for i, j in pairs)
        return float(same / total) if ref.text else (1.0 if len(got) == 0 else 0.0)
    if isinstance(ref, Poses):
        pairs = _match(ref.xyxy, got.xyxy)
        if not len(ref):
            return 1.0 if not len(got) else 0.0
        hits = 0.0
        for i, j in pairs:
            size = max(ref.xyxy[i, 2] - ref.xyxy[i, 0], ref.xyxy[i, 3] - ref.xyxy[i, 1])
            # only keypoints the reference sees: guesses for occluded or out-of-frame joints are not signal
            seen = ref.keypoints[i, :, 2] > 0.5 if ref.keypoints.shape[-1] > 2 else np.ones(len(ref.keypoints[i]), bool)
            d = np.linalg.norm(ref.keypoints[i, :, :2] - got.keypoints[j, :, :2], axis=1)
            hits += float((d[seen] <= 0.05 * size).mean()) if seen.any() else 1.0
        return hits / len(ref)
    same = json.dumps(ref.to_dict(), sort_keys=True) == json.dumps(got.to_dict(), sort_keys=True)
    return float(same)


def metric_name(result) -> str:
    """Human name of the metric used for this result type."""
    return getattr(result, "metric", None) or METRICS.get(type(result), "identical results")


def agreement(reference: list, results: list) -> float:
    """Mean per-frame agreement over frames (1.0 = identical to the reference)."""
    if not reference:
        return float("nan")
    return float(np.mean([frame_score(r, g) for r, g in zip(reference, results)]))
