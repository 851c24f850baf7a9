"""The ``motion`` task: MOG2 (or KNN) foreground, cleaned, grouped into regions, debounced into events.

Work is done on a downscaled grey frame (``work_width`` px wide) because background
subtraction cost grows with pixel count and motion needs no fine detail; regions are
mapped back to source pixels. Debouncing: motion *starts* after ``start_frames``
consecutive frames whose moving-pixel ratio exceeds ``min_ratio``, and *stops* after
``stop_frames`` consecutive quiet frames, so flicker and sensor noise raise no events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from edgevid import Detections, Task
from edgevid.errors import ConfigError


@dataclass
class MotionResult:
    """Moving ``regions`` (source pixels), the moving-pixel ``ratio``, the debounced state and its ``events``."""

    regions: Detections
    ratio: float
    moving: bool
    events: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """``{"events": [...], "motion": bool, "motion_ratio": r, "regions": [...]}`` (merged into the JSONL row)."""
        return {
            "events": list(self.events),
            "motion": self.moving,
            "motion_ratio": round(self.ratio, 5),
            "regions": self.regions.to_dict(),
        }


class MotionTask(Task):
    """Classical motion detection; options: ``method`` ("mog2"|"knn"), ``work_width``, ``min_ratio``,
    ``min_area`` (fraction of the frame for one region), ``start_frames``, ``stop_frames``, ``history``."""

    name = "motion"
    summary = "motion regions and start/stop events (OpenCV background subtraction, no model)"
    models = {}
    result_key = "events"

    def __init__(self, models=None, *, method: str = "mog2", work_width: int = 320, min_ratio: float = 0.004,
                 min_area: float = 0.0005, start_frames: int = 2, stop_frames: int = 8, history: int = 200,
                 **options: Any) -> None:
        super().__init__(models, **options)
        if method not in ("mog2", "knn"):
            raise ConfigError(f"motion: method must be 'mog2' or 'knn', not {method!r}")
        self.method, self.work_width, self.history = method, int(work_width), int(history)
        self.min_ratio, self.min_area = float(min_ratio), float(min_area)
        self.start_frames, self.stop_frames = int(start_frames), int(stop_frames)
        self._kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
        self.reset()

    def reset(self) -> None:
        """Start a fresh background model and debouncer (new source)."""
        if self.method == "mog2":
            self._bg = cv2.createBackgroundSubtractorMOG2(history=self.history, varThreshold=25, detectShadows=False)
        else:
            self._bg = cv2.createBackgroundSubtractorKNN(history=self.history, detectShadows=False)
        self._moving = False
        self._run = 0  # consecutive frames disagreeing with the current state
        self._frames = 0

    def preprocess(self, frame: np.ndarray) -> dict[str, Any]:
        """Downscale to ``work_width`` and convert to blurred grey."""
        h, w = frame.shape[:2]
        scale = min(1.0, self.work_width / w)
        small = cv2.resize(frame, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA) if scale < 1 else frame
        grey = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), (5, 5), 0)
        return {"grey": grey, "scale": scale}

    def infer(self, prepared: dict[str, Any]) -> np.ndarray:
        """Foreground mask from the background model (which learns as it goes)."""
        fg = self._bg.apply(prepared["grey"])
        return cv2.morphologyEx(fg, cv2.MORPH_OPEN, self._kernel)

    def postprocess(self, fg: np.ndarray, prepared: dict[str, Any]) -> MotionResult:
        """Regions from connected components; debounced start/stop events."""
        self._frames += 1
        moving = fg > 0
        ratio = float(moving.mean())
        n, _, stats, _ = cv2.connectedComponentsWithStats(moving.astype(np.uint8), connectivity=8)
        min_px = self.min_area * fg.size
        keep = [i for i in range(1, n) if stats[i, cv2.CC_STAT_AREA] >= min_px]
        s = 1.0 / prepared["scale"]
        boxes = np.array([[stats[i, 0], stats[i, 1], stats[i, 0] + stats[i, 2], stats[i, 1] + stats[i, 3]] for i in keep],
                         np.float32).reshape(-1, 4) * s
        areas = np.array([stats[i, cv2.CC_STAT_AREA] for i in keep], np.float32) / fg.size
        regions = Detections(xyxy=boxes, score=areas)
        # the first frame has no background yet: everything is "foreground" and means nothing
        active = ratio >= self.min_ratio and self._frames > 1
        events = []
        if active != self._moving:
            self._run += 1
            if self._run >= (self.start_frames if active else self.stop_frames):
                self._moving, self._run = active, 0
                events.append({"type": "motion_start" if active else "motion_stop", "ratio": round(ratio, 5)})
        else:
            self._run = 0
        return MotionResult(regions=regions if len(regions) else Detections.empty(), ratio=ratio,
                            moving=self._moving, events=events)
