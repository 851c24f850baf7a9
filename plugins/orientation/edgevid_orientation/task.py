"""The ``orientation`` task: is the text line in the frame (or in ``roi``) upright or upside down?

A label-reading kiosk or a document camera mounted the wrong way round is the use case: the
result says to rotate the image by 180 degrees before OCR.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import cv2
import numpy as np

from edgevid import Task
from edgevid.errors import ConfigError
from edgevid.vision.image import input_form

from .card import DIRECTION_CLS

ANGLES = (0, 180)


@dataclass
class Orientation:
    """The predicted rotation of the text (0 or 180 degrees) and its probability."""

    angle: int
    score: float
    #: what the bench and ``edgevid build`` call :meth:`agreement`
    metric: ClassVar[str] = "same angle"

    def to_dict(self) -> dict:
        """JSON-ready: ``{"angle": 0, "score": 0.99}``."""
        return {"angle": self.angle, "score": round(self.score, 4)}

    def agreement(self, other: "Orientation") -> float:
        """1.0 when ``other`` reads the same angle, else 0.0: a variant's probabilities may differ in the fourth
        decimal, which is no different answer."""
        return float(other.angle == self.angle)


class OrientationTask(Task):
    """Classify a text line's orientation. Option ``roi=(x1, y1, x2, y2)`` picks the line in a larger frame."""

    name = "orientation"
    summary = "is a text line upright or upside down (PP-OCR direction classifier)"
    models = {"classifier": DIRECTION_CLS}
    result_key = "orientation"

    def __init__(self, models=None, *, roi=None, **options) -> None:
        super().__init__(models, **options)
        if roi is not None and len(roi) != 4:
            raise ConfigError("orientation: roi must be (x1, y1, x2, y2)")
        self.roi = roi
        # what the model takes, read once: an onnx2tf conversion is NHWC where the card's model is NCHW
        self._nchw = input_form(self.loaded["classifier"].session.inputs[0])[2]

    def preprocess(self, frame: np.ndarray) -> np.ndarray:
        """Crop, resize to height 48 keeping aspect (width <= 192), pad right, normalise; NCHW or NHWC as the
        model takes it."""
        if self.roi is not None:
            x1, y1, x2, y2 = (int(v) for v in self.roi)
            frame = frame[y1:y2, x1:x2]
        spec = DIRECTION_CLS.input
        h, w = spec.size
        width = min(w, max(1, round(frame.shape[1] * h / frame.shape[0])))
        rgb = cv2.cvtColor(cv2.resize(frame, (width, h)), cv2.COLOR_BGR2RGB).astype(np.float32)
        x = np.zeros((1, 3, h, w), np.float32)  # zero padding = mid-grey after normalisation, as PaddleOCR does
        x[0, :, :, :width] = ((rgb * spec.scale - np.float32(0.5)) / np.float32(0.5)).transpose(2, 0, 1)
        return x if self._nchw else np.ascontiguousarray(x.transpose(0, 2, 3, 1))

    def infer(self, tensor: np.ndarray) -> np.ndarray:
        """Run the classifier; its single output is the probability of each angle."""
        model = self.loaded["classifier"]
        return next(iter(model(tensor).values()))

    def postprocess(self, probs: np.ndarray, prepared: np.ndarray) -> Orientation:
        """Pick the most probable angle."""
        i = int(np.argmax(probs[0]))
        return Orientation(angle=ANGLES[i], score=float(probs[0, i]))
