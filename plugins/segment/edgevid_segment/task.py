"""The ``segment`` task: a person mask at source resolution from MediaPipe selfie segmentation.

Options:

* ``model`` — ``general`` (256x256), ``landscape`` (144x256, faster) or ``auto`` (default): landscape
  for frames at least 1.4x wider than tall, general otherwise (decided per frame size, so a stream
  of one size always uses one model);
* ``threshold`` — probability above which a pixel is person (0.5);
* ``smoothing`` — temporal smoothing in [0, 1): each frame's probabilities are blended with the
  previous frame's (``p = (1 - s) * p + s * p_prev``) to stop the edge flickering on video; 0 = off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from edgevid import Mask, Task
from edgevid.errors import ConfigError
from edgevid.vision.image import image_tensor, input_geometry

from .card import GENERAL, LANDSCAPE

_ROLES = {"auto": ["general", "landscape"], "general": ["general"], "landscape": ["landscape"]}
LANDSCAPE_RATIO = 1.4


@dataclass
class Prepared:
    """The input tensor, which model it is for, and the source frame size."""

    role: str
    tensor: np.ndarray
    shape: tuple[int, int]


class SegmentTask(Task):
    """Person segmentation mask (and soft probability) in source pixels."""

    name = "segment"
    summary = "person segmentation mask (MediaPipe selfie segmentation, general/landscape; TFLite only today)"
    models = {"general": GENERAL, "landscape": LANDSCAPE}
    result_key = "mask"
    parallel_infer = True  # temporal smoothing lives in postprocess, which runs in order

    def __init__(self, models=None, *, model: str = "auto", threshold: float = 0.5, smoothing: float = 0.0,
                 **options: Any) -> None:
        super().__init__(models, **options)
        if model not in _ROLES:
            raise ConfigError(f"segment: model must be one of {', '.join(_ROLES)}, got {model!r}")
        if not 0.0 < threshold < 1.0:
            raise ConfigError(f"segment: threshold must be in (0, 1), got {threshold}")
        if not 0.0 <= smoothing < 1.0:
            raise ConfigError(f"segment: smoothing must be in [0, 1), got {smoothing}")
        self.strategy, self.threshold, self.smoothing = model, threshold, smoothing
        self.geometry = {role: input_geometry(self.loaded[role].session.inputs[0]) for role in _ROLES[model]}
        self._previous: np.ndarray | None = None

    @classmethod
    def roles(cls, model: str = "auto", **options: Any) -> list[str]:
        """Models to load for this choice."""
        if model not in _ROLES:
            raise ConfigError(f"segment: model must be one of {', '.join(_ROLES)}, got {model!r}")
        return _ROLES[model]

    def role_for(self, height: int, width: int) -> str:
        """Which model a frame of this size goes to."""
        if self.strategy != "auto":
            return self.strategy
        return "landscape" if width >= LANDSCAPE_RATIO * height else "general"

    def reset(self) -> None:
        """Forget the previous frame (a new source starts)."""
        self._previous = None

    def preprocess(self, frame: np.ndarray) -> Prepared:
        """Stretch to the model's input, RGB in [0, 1]."""
        import cv2

        role = self.role_for(*frame.shape[:2])
        h, w, nchw = self.geometry[role]
        rgb = cv2.cvtColor(cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
        return Prepared(role, image_tensor(rgb, self.loaded[role].card.input, nchw), frame.shape[:2])

    def infer(self, prepared: Prepared) -> np.ndarray:
        """The model's probability map (h, w)."""
        model = self.loaded[prepared.role]
        out = model.run({model.input_name: prepared.tensor})
        prob = next(iter(out.values()))
        return np.squeeze(prob).astype(np.float32)

    def postprocess(self, prob: np.ndarray, prepared: Prepared) -> Mask:
        """Resize to the source, smooth over time if asked, threshold."""
        import cv2

        h, w = prepared.shape
        full = cv2.resize(prob, (w, h), interpolation=cv2.INTER_LINEAR)
        if self.smoothing and self._previous is not None and self._previous.shape == full.shape:
            full = (1.0 - self.smoothing) * full + self.smoothing * self._previous
        self._previous = full
        return Mask(mask=full > self.threshold, probability=full)
