"""The ``face`` task: BlazeFace on the whole frame and, for small faces, on overlapping tiles.

Strategies (option ``model``):

* ``short`` — the short-range model on the whole frame: fastest, for faces near the camera;
* ``full`` — the full-range model on the whole frame and on ``tiles`` x ``tiles`` overlapping tiles;
* ``auto`` (default) — both: short-range on the whole frame for near faces, full-range on the frame
  and its tiles for distant ones. Detections from every run are mapped to source pixels and merged
  by weighted NMS, so a face seen by several runs is reported once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from edgevid import Detections, Task
from edgevid.errors import ConfigError, UnsupportedModelError
from edgevid.vision import ssd
from edgevid.vision.image import Letterbox, image_tensor, input_geometry

from .card import ANCHORS, FULL, SHORT, THRESHOLDS
from .tiles import auto_tiles, grid

NUM_KEYPOINTS = 6  # right eye, left eye, nose tip, mouth centre, right ear tragion, left ear tragion
_ROLES = {"auto": ["short", "full"], "short": ["short"], "full": ["full"]}


class _Detector:
    """One loaded BlazeFace model: its geometry, anchors and which output is which."""

    def __init__(self, model, threshold: float | None) -> None:
        self.model = model
        spec = model.session.inputs[0]
        self.input_name = spec.name
        h, w, self.nchw = input_geometry(spec)
        if h != w:
            raise UnsupportedModelError(f"BlazeFace input must be square, got {h}x{w}")
        self.size = h
        strides, per_layer = ANCHORS[model.card.id]
        self.anchors = ssd.anchors(self.size, strides, per_layer)
        n = self.anchors.shape[0]
        # outputs by element count (names differ between .tflite and converted variants)
        by_size = {int(np.prod([d for d in o.shape if d is not None])): o.name for o in model.session.outputs}
        try:
            self.regressors, self.scores = by_size[n * 16], by_size[n]
        except KeyError:
            raise UnsupportedModelError(
                f"{model.card.id}: outputs {[list(o.shape) for o in model.session.outputs]}, expected {n}x16 and {n}x1"
            ) from None
        self.threshold = THRESHOLDS[model.card.id] if threshold is None else threshold


@dataclass
class _Run:
    """One model run on one region of the frame."""

    detector: _Detector
    offset: tuple[int, int]
    letterbox: Letterbox
    tensor: np.ndarray
    #: the region was cut from the frame scaled by this factor
    scale: float = 1.0


@dataclass
class Prepared:
    """Everything :meth:`FaceTask.infer` needs for one frame."""

    runs: list[_Run]
    shape: tuple[int, int]


class FaceTask(Task):
    """Faces with 6 keypoints, in source-frame pixels."""

    name = "face"
    summary = "faces with 6 keypoints (MediaPipe BlazeFace short/full range, tiling for small faces)"
    models = {"short": SHORT, "full": FULL}
    result_key = "detections"
    parallel_infer = True  # every frame's runs are independent

    def __init__(self, models=None, *, model: str = "auto", tiles: int | str = "auto",
                 score_threshold: float | None = None, nms_iou: float = 0.3, max_faces: int | None = None,
                 **options: Any) -> None:
        super().__init__(models, **options)
        if model not in _ROLES:
            raise ConfigError(f"face: model must be one of {', '.join(_ROLES)}, got {model!r}")
        if tiles != "auto" and (not isinstance(tiles, int) or tiles < 1):
            raise ConfigError(f"face: tiles must be 'auto' or a positive integer, got {tiles!r}")
        self.strategy, self.tiles, self.nms_iou, self.max_faces = model, tiles, nms_iou, max_faces
        self.detectors = {role: _Detector(self.loaded[role], score_threshold) for role in _ROLES[model]}

    @classmethod
    def roles(cls, model: str = "auto", **options: Any) -> list[str]:
        """Models to load for this strategy."""
        if model not in _ROLES:
            raise ConfigError(f"face: model must be one of {', '.join(_ROLES)}, got {model!r}")
        return _ROLES[model]

    def regions(self, height: int, width: int) -> list[tuple[str, tuple[int, int, int, int]]]:
        """(role, region) pairs this frame size is searched with."""
        out = []
        for role, det in self.detectors.items():
            n = auto_tiles(height, width, det.size) if self.tiles == "auto" else self.tiles
            out.append((role, (0, 0, width, height)))
            if n > 1 and (role == "full" or self.strategy == "auto"):
                out += [(role, r) for r in grid(height, width, n)]
        return out

    def preprocess(self, frame: np.ndarray) -> Prepared:
        """Letterbox every region for its model (RGB, normalised per the card)."""
        import cv2

        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        runs = []
        scaled: dict[tuple[str, float], np.ndarray] = {}
        for role, (x0, y0, x1, y1) in self.regions(*frame.shape[:2]):
            det = self.detectors[role]
            # All tiles of a grid share one scale: shrink the frame once (INTER_AREA on a 720p frame
            # costs ~1 ms) and cut the tiles from it, rather than resizing every tile.
            k = min(1.0, det.size / max(y1 - y0, x1 - x0))
            if (role, k) not in scaled:
                scaled[role, k] = rgb if k == 1.0 else cv2.resize(rgb, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
            small = scaled[role, k]
            crop = small[round(y0 * k):round(y1 * k), round(x0 * k):round(x1 * k)]
            lb = Letterbox.fit(crop.shape[0], crop.shape[1], det.size)
            runs.append(_Run(det, (x0, y0), lb, image_tensor(lb.apply(crop), det.model.card.input, det.nchw), k))
        return Prepared(runs, frame.shape[:2])

    def infer(self, prepared: Prepared) -> list[dict[str, np.ndarray]]:
        """Run each region through its model."""
        return [r.detector.model.run({r.detector.input_name: r.tensor}) for r in prepared.runs]

    def postprocess(self, raw: list[dict[str, np.ndarray]], prepared: Prepared) -> Detections:
        """Decode each run, map to source pixels, merge overlapping detections by weighted NMS.

        Short-range boxes fit near faces more tightly than full-range ones (the two models were
        trained to different box conventions), so where both models see a face the short-range
        detection wins and the full-range one only adds faces the short-range model missed.
        """
        by_role: dict[str, ssd.RawDetections] = {}
        for run, out in zip(prepared.runs, raw):
            det = run.detector
            dets = ssd.decode(out[det.regressors], out[det.scores], det.anchors, det.size, NUM_KEYPOINTS, det.threshold)
            if not len(dets):
                continue
            shift = np.asarray(run.offset, np.float64)
            boxes = run.letterbox.to_source(dets.boxes.reshape(-1, 2, 2)).reshape(-1, 4) / run.scale + np.tile(shift, 2)
            kps = run.letterbox.to_source(dets.keypoints) / run.scale + shift
            role = "short" if det is self.detectors.get("short") else "full"
            found = ssd.RawDetections(boxes.astype(np.float32), kps.astype(np.float32), dets.scores)
            by_role[role] = by_role[role].concat(found) if role in by_role else found
        merged = ssd.RawDetections.empty(NUM_KEYPOINTS)
        for role in ("short", "full"):
            if role in by_role:
                extra = ssd.weighted_nms(by_role[role], self.nms_iou)
                if len(merged) and len(extra):
                    extra = extra.select(ssd.max_iou(extra.boxes, merged.boxes) <= self.nms_iou)
                merged = merged.concat(extra)
        if self.max_faces is not None:
            merged = merged.select(np.argsort(-merged.scores, kind="stable")[: self.max_faces])
        h, w = prepared.shape
        boxes = np.clip(merged.boxes, 0, [w, h, w, h]).astype(np.float32)
        return Detections(xyxy=boxes, score=merged.scores, keypoints=merged.keypoints,
                          labels=["face"] * len(merged))
