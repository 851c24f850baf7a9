"""Stage 1: find a person and the alignment points that place the landmark model's ROI.

Everything about the loaded model (input name, size, layout, which output is which) is read from
the session's tensor specs, so a variant converted to another format runs unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgevid.errors import UnsupportedModelError
from edgevid.vision.image import Letterbox, image_tensor, input_geometry

from . import anchors
from .roi import Roi, roi_from_alignment


@dataclass
class PersonDetection:
    """One detected person in source pixels: ``box`` xyxy, ``score``, the 4 ``keypoints`` (4,2) and its :class:`Roi`."""

    box: np.ndarray
    score: float
    keypoints: np.ndarray
    roi: Roi


class Detector:
    """The BlazePose detector around a loaded model: letterbox, run, decode, weighted NMS, ROI."""

    def __init__(self, model, threshold: float = 0.5, nms_iou: float = 0.3) -> None:
        self.model = model
        self.threshold = threshold
        self.nms_iou = nms_iou
        spec = model.session.inputs[0]
        self.input_name = spec.name
        h, w, self.nchw = input_geometry(spec)
        if h != w:
            raise UnsupportedModelError(f"pose detector input must be square, got {h}x{w}")
        self.size = h
        n = anchors.ssd_anchors(self.size).shape[0]
        # outputs by element count: n*12 regressors, n*1 scores (names differ between formats)
        by_size = {int(np.prod([d for d in o.shape if d is not None])): o.name for o in model.session.outputs}
        try:
            self.regressors, self.scores = by_size[n * 12], by_size[n]
        except KeyError:
            raise UnsupportedModelError(
                f"not a BlazePose detector: outputs {[list(o.shape) for o in model.session.outputs]}, "
                f"expected {n}x12 and {n}x1") from None

    def __call__(self, rgb: np.ndarray, max_people: int | None = 1) -> list[PersonDetection]:
        """People in an RGB frame, best first."""
        lb = Letterbox.fit(rgb.shape[0], rgb.shape[1], self.size)
        x = image_tensor(lb.apply(rgb), self.model.card.input, self.nchw)
        out = self.model.run({self.input_name: x})
        raw = anchors.weighted_nms(anchors.decode(out[self.regressors], out[self.scores], self.threshold, self.size),
                                   self.nms_iou, max_out=max_people)
        people = []
        for box, kps, score in zip(raw.boxes, raw.keypoints, raw.scores):
            kp = lb.to_source(kps)
            roi = roi_from_alignment(kp[0], kp[1])
            if roi is not None:
                people.append(PersonDetection(lb.to_source(box.reshape(2, 2)).reshape(4), float(score), kp, roi))
        return people
