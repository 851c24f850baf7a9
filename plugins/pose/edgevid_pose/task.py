"""The ``pose`` task: MediaPipe BlazePose's two stages with frame-to-frame ROI tracking.

1. **Detector** (only when there is no tracked ROI): letterbox to 224, SSD decode, weighted NMS;
   the hip centre and full-body scale point give a rotated square ROI.
2. **Landmarks**: the ROI is warped upright to 256x256, the landmark model returns 33 body points
   with visibility plus a pose-presence score; points are mapped back through the inverse affine.
3. **Tracking**: the next frame's ROI comes from this frame's two auxiliary alignment landmarks,
   as MediaPipe's ``pose_landmarks_to_roi`` does, so the detector is skipped while the person stays
   found. When the presence score falls below ``presence_threshold`` the track is dropped and the
   detector runs again on the same frame.

Single person: BlazePose tracks one person (the detector's best) per stream, as MediaPipe's
pose solution does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgevid import Poses, Task
from edgevid.errors import ConfigError
from edgevid.vision.image import image_tensor, input_geometry

from . import landmarks as lm
from .card import DETECTOR, LANDMARKS
from .detector import Detector
from .roi import Roi, apply, crop_to_source, roi_from_alignment, warp_roi


@dataclass
class PoseEstimate:
    """One frame's raw result in source pixels (``None`` fields when no pose was found)."""

    keypoints: np.ndarray | None  # (39, 3): x, y, visibility (33 body points + 6 auxiliary)
    score: float
    roi: Roi | None
    detected: bool  # True if the detector ran for this frame


class PoseTask(Task):
    """Single-person body pose: 33 keypoints (x, y, visibility) in source pixels, ROI-tracked across frames.

    Options: ``detection_threshold`` (detector score, 0.5), ``presence_threshold`` (pose-presence
    score below which the track is dropped, 0.5), ``track`` (reuse the ROI across frames, True),
    ``refine`` (heatmap refinement of x, y, True), ``nms_iou`` (0.3).

    ``detector_runs`` and ``landmark_runs`` count model invocations since construction;
    ``last_timing`` holds the last frame's per-stage milliseconds.
    """

    name = "pose"
    summary = "single-person body pose, 33 keypoints (MediaPipe BlazePose, ROI-tracked)"
    models = {"detector": DETECTOR, "landmarks": LANDMARKS}
    result_key = "poses"

    def __init__(self, models=None, *, detection_threshold: float = 0.5, presence_threshold: float = 0.5,
                 track: bool = True, refine: bool = True, nms_iou: float = 0.3, **options: Any) -> None:
        super().__init__(models, **options)
        for key, val in (("detection_threshold", detection_threshold), ("presence_threshold", presence_threshold),
                         ("nms_iou", nms_iou)):
            if not 0.0 <= float(val) <= 1.0:
                raise ConfigError(f"pose: {key} must be between 0 and 1, got {val}")
        self.presence_threshold = float(presence_threshold)
        self.track = bool(track)
        self.refine = bool(refine)
        self.detector_runs = 0
        self.landmark_runs = 0
        self.last_timing: dict[str, float] = {}
        self._roi: Roi | None = None
        self._detector = None
        if models:
            self._detector = Detector(self.loaded["detector"], float(detection_threshold), float(nms_iou))
            spec = self.loaded["landmarks"].session
            h, w, self._lm_nchw = input_geometry(spec.inputs[0])
            if h != w:
                raise ConfigError(f"pose: landmark model input must be square, got {h}x{w}")
            self._lm_size, self._lm_input = h, spec.inputs[0].name
            self._omap = lm.map_outputs(spec.outputs)

    def reset(self) -> None:
        """Forget the tracked ROI: the next frame runs the detector."""
        self._roi = None

    def preprocess(self, frame: np.ndarray) -> np.ndarray:
        """BGR -> RGB (both models were trained on RGB)."""
        if frame.ndim != 3 or frame.shape[2] != 3:
            raise ConfigError(f"pose: expected an HxWx3 BGR frame, got shape {frame.shape}")
        return np.ascontiguousarray(frame[:, :, ::-1])

    def infer(self, rgb: np.ndarray) -> PoseEstimate:
        """Run the detector if needed, then the landmark model; updates the tracked ROI."""
        if self._detector is None:
            raise ConfigError("pose: no models loaded; create the task with edgevid.load('pose')")
        self.last_timing = {}
        roi = self._roi if self.track else None
        if roi is not None:
            est = self._landmarks(rgb, roi, detected=False)
            if est.keypoints is not None:
                return est
        roi = self._detect(rgb)
        if roi is None:
            self._roi = None
            return PoseEstimate(None, 0.0, None, True)
        return self._landmarks(rgb, roi, detected=True)

    def _detect(self, rgb: np.ndarray) -> Roi | None:
        t0 = time.perf_counter()
        people = self._detector(rgb, max_people=1)
        self.detector_runs += 1
        self.last_timing["detector_ms"] = (time.perf_counter() - t0) * 1e3
        return people[0].roi if people else None

    def _landmarks(self, rgb: np.ndarray, roi: Roi, detected: bool) -> PoseEstimate:
        t0 = time.perf_counter()
        crop = warp_roi(rgb, roi, self._lm_size)
        model = self.loaded["landmarks"]
        out = model.run({self._lm_input: image_tensor(crop, model.card.input, self._lm_nchw)})
        self.landmark_runs += 1
        dec = lm.decode(out, self._omap, refine=self.refine, size=self._lm_size)
        self.last_timing["landmarks_ms"] = self.last_timing.get("landmarks_ms", 0.0) + (time.perf_counter() - t0) * 1e3
        # the model's presence output is already a probability (MediaPipe thresholds it without an activation)
        if dec.score < self.presence_threshold:
            self._roi = None
            return PoseEstimate(None, dec.score, roi, detected)
        xy = apply(crop_to_source(roi, self._lm_size), dec.xy)
        self._roi = roi_from_alignment(xy[lm.AUX_HIP], xy[lm.AUX_SCALE]) if self.track else None
        kps = np.concatenate([xy, dec.visibility[:, None]], axis=1).astype(np.float32)
        return PoseEstimate(kps, dec.score, roi, detected)

    def postprocess(self, est: PoseEstimate, rgb: np.ndarray) -> Poses:
        """The 33 body keypoints as :class:`edgevid.Poses`; the box encloses them, clipped to the frame."""
        if est.keypoints is None:
            return Poses()
        body = est.keypoints[: lm.NUM_BODY]
        h, w = rgb.shape[:2]
        lo = np.clip(body[:, :2].min(axis=0), 0, (w, h))
        hi = np.clip(body[:, :2].max(axis=0), 0, (w, h))
        return Poses(
            xyxy=np.concatenate([lo, hi])[None].astype(np.float32),
            score=np.array([est.score], np.float32),
            keypoints=body[None].copy(),
        )
