"""Annotated video: each processed frame with its results drawn on it, written as MP4.

Boxes, keypoints, track ids, masks, text polygons and strings are drawn for every result type in
``edgevid.tasks.results``; results that carry a ``regions`` attribute (motion) draw those boxes.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..errors import SinkError
from ..tasks.results import Detections, Mask, Poses, Texts
from .sinks import Sink

BOX = (0, 255, 0)        # BGR green: boxes
POINT = (0, 200, 255)    # orange: keypoints
MASK = (255, 0, 255)     # magenta: person masks
TEXT = (255, 255, 0)     # cyan: text


def _label(img: np.ndarray, text: str, x: float, y: float) -> None:
    import cv2

    cv2.putText(img, text, (int(x), max(12, int(y) - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, BOX, 1, cv2.LINE_AA)


def draw(image: np.ndarray, result: Any) -> np.ndarray:
    """A copy of ``image`` (BGR) with ``result`` drawn on it."""
    import cv2

    out = image.copy()
    if isinstance(result, Mask):
        m = result.mask.astype(bool)
        out[m] = (0.5 * out[m] + 0.5 * np.asarray(MASK)).astype(np.uint8)
        return out
    if isinstance(result, Texts):
        for poly, text in zip(result.polygon, result.text):
            cv2.polylines(out, [np.round(poly).astype(np.int32)], True, TEXT, 2)
            _label(out, text, poly[:, 0].min(), poly[:, 1].min())
        return out
    if isinstance(result, (Detections, Poses)):
        for i, box in enumerate(result.xyxy):
            x1, y1, x2, y2 = (int(round(v)) for v in box)
            cv2.rectangle(out, (x1, y1), (x2, y2), BOX, 2)
            tag = f"{result.score[i]:.2f}"
            track = getattr(result, "tracker_id", None)
            if track is not None:
                tag = f"#{int(track[i])} {tag}"
            _label(out, tag, x1, y1)
            kps = result.keypoints[i] if result.keypoints is not None else ()
            for kp in kps:
                if len(kp) > 2 and kp[2] < 0.5:
                    continue  # invisible joints are guesses; do not draw them
                cv2.circle(out, (int(round(kp[0])), int(round(kp[1]))), 3, POINT, -1)
        return out
    regions = getattr(result, "regions", None)
    if isinstance(regions, Detections):
        return draw(out, regions)
    return out


class AnnotateSink(Sink):
    """Writes annotated frames to an MP4 file (mp4v) at ``fps``; the size comes from the first frame."""

    def __init__(self, path: str, fps: float = 10.0) -> None:
        self.path, self.fps = path, fps
        self.writer = None
        self.frames = 0
        parent = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(parent):
            raise SinkError(f"cannot write {path}: folder {parent} does not exist")

    def write(self, record: dict[str, Any], frame=None, result=None) -> None:
        """Draw ``result`` on ``frame.image`` and append it."""
        import cv2

        if frame is None:
            return
        img = draw(frame.image, result)
        if self.writer is None:
            h, w = img.shape[:2]
            self.writer = cv2.VideoWriter(self.path, cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (w, h))
            if not self.writer.isOpened():
                raise SinkError(f"cannot write {self.path}: no MP4 encoder available")
            self.size = (w, h)
        if (img.shape[1], img.shape[0]) != self.size:  # several sources of different sizes in one file
            img = cv2.resize(img, self.size)
        self.writer.write(img)
        self.frames += 1

    def close(self) -> None:
        """Finish the MP4 file (its index is written here)."""
        if self.writer is not None:
            self.writer.release()
            self.writer = None
