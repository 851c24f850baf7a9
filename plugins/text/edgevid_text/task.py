"""The ``text`` task: find text lines in a frame and read them (PP-OCRv4 detection + recognition).

Stages: :meth:`TextTask.preprocess` sizes and normalises the frame for the detector;
:meth:`TextTask.infer` runs the detector, extracts quads, straightens each into a line crop
and runs the recogniser on batches of crops of one width; :meth:`TextTask.postprocess` decodes the CTC
output and returns :class:`edgevid.Texts` in source pixels, in reading order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from edgevid import Task, Texts
from edgevid.errors import ConfigError
from edgevid.vision.image import input_form

from . import ctc
from .card import DETECTOR, DIRECTION, RECOGNIZER

# det_post and rec (which need OpenCV) are imported where used, so registering the plugin, e.g. for
# ``edgevid list``, does not import cv2. PaddleOCR trains on OpenCV-decoded images, so both models
# take BGR frames as they come, with no channel swap.


@dataclass
class Prepared:
    """What :meth:`TextTask.preprocess` hands on: the detector's input and the frame to crop lines from."""

    tensor: np.ndarray
    frame: np.ndarray


@dataclass
class Raw:
    """What :meth:`TextTask.infer` produces: quads, their detection scores, and recogniser outputs per quad."""

    quads: np.ndarray
    det_scores: np.ndarray
    probs: list[np.ndarray]


def _classes(rec_model) -> tuple[str, ...]:
    """The recogniser's dictionary: from the loaded file's ONNX metadata, or, for variants converted to
    another format (which drop the metadata), from the card's reference ONNX, which has the same classes."""
    if rec_model.path.suffix == ".onnx":
        return ctc.charset(rec_model.path)
    from edgevid.models import store

    return ctc.charset(store.fetch(rec_model.card.reference))


class TextTask(Task):
    """Detect and read text lines.

    Options: ``det_limit`` (960: the detector's long side, multiple of 32), ``det_thresh`` (0.3:
    text-pixel probability), ``box_thresh`` (0.6: mean probability inside a box), ``unclip_ratio``
    (1.5: how much the text kernel is grown), ``min_score`` (0.5: recognition confidence to keep a
    line), ``batch_size`` (up to 6 lines of one width per recogniser call), ``upside_down`` (False: also load the
    direction classifier and turn lines read upside down).
    """

    name = "text"
    summary = "find and read text lines (PP-OCRv4 det + rec)"
    models = {"detector": DETECTOR, "recognizer": RECOGNIZER, "direction": DIRECTION}
    result_key = "texts"

    def __init__(self, models=None, *, det_limit: int = 960, det_thresh: float = 0.3, box_thresh: float = 0.6,
                 unclip_ratio: float = 1.5, min_score: float = 0.5, batch_size: int = 6, upside_down: bool = False,
                 **options: Any) -> None:
        super().__init__(models, **options)
        if det_limit < 32:
            raise ConfigError(f"text: det_limit must be at least 32, got {det_limit}")
        if not (0 < det_thresh < 1 and 0 < box_thresh < 1 and 0 <= min_score < 1):
            raise ConfigError("text: det_thresh and box_thresh must be in (0, 1) and min_score in [0, 1)")
        if unclip_ratio <= 0 or batch_size < 1:
            raise ConfigError("text: unclip_ratio must be > 0 and batch_size >= 1")
        self.det_limit, self.det_thresh, self.box_thresh = int(det_limit), det_thresh, box_thresh
        self.unclip_ratio, self.min_score, self.batch_size = unclip_ratio, min_score, int(batch_size)
        self.upside_down = upside_down
        if upside_down and self.loaded and "direction" not in self.loaded:
            raise ConfigError("text: upside_down=True needs the 'direction' model; load with edgevid.load('text', "
                              "upside_down=True)")
        rec_model = self.loaded.get("recognizer")
        self.classes = _classes(rec_model) if rec_model is not None else ()
        # what each model takes, read once: a conversion (onnx2tf: NHWC, fixed size, batch 1) differs from the card
        self._forms = {role: input_form(m.session.inputs[0]) for role, m in self.loaded.items()
                       if role in ("detector", "recognizer")}

    @classmethod
    def roles(cls, upside_down: bool = False, **options: Any) -> list[str]:
        """Detector and recogniser; the direction classifier only with ``upside_down=True``."""
        return ["detector", "recognizer"] + (["direction"] if upside_down else [])

    def preprocess(self, frame: np.ndarray) -> Prepared:
        """Resize (aspect kept, long side <= ``det_limit``, multiples of 32) and normalise for the detector."""
        if frame.ndim != 3 or frame.shape[2] != 3:
            raise ConfigError(f"text: expected an HxWx3 BGR frame, got shape {frame.shape}")
        from . import det_post

        h, w, nchw, _ = self._forms["detector"]
        return Prepared(det_post.det_tensor(frame, self.det_limit, (h, w) if h and w else None, nchw), frame)

    def _detect(self, prepared: Prepared) -> tuple[np.ndarray, np.ndarray]:
        from . import det_post

        prob = next(iter(self.loaded["detector"](prepared.tensor).values()))
        prob = prob[0, 0] if prob.shape[1] == 1 else prob[0, ..., 0]  # NCHW, or NHWC from an onnx2tf conversion
        quads, scores = det_post.boxes_from_map(
            prob, prepared.frame.shape[:2], thresh=self.det_thresh, box_thresh=self.box_thresh,
            unclip_ratio=self.unclip_ratio)
        order = det_post.reading_order(quads)
        return quads[order], scores[order]

    def _turn_upside_down_lines(self, crops: list[np.ndarray]) -> list[np.ndarray]:
        """Rotate by 180° the crops the direction classifier is confident are upside down (PaddleOCR's 0.9)."""
        from . import rec

        model = self.loaded["direction"]
        for idx, tensor in rec.batches(crops, self.batch_size, height=48, width=192):
            probs = next(iter(model(tensor).values()))
            for i, p in zip(idx, probs):
                if p.argmax() == 1 and p[1] > 0.9:
                    crops[i] = np.ascontiguousarray(crops[i][::-1, ::-1])
        return crops

    def infer(self, prepared: Prepared) -> Raw:
        """Detect quads, crop each line, and read each at its own width (or in windows, on a fixed-width conversion)."""
        from . import rec

        quads, scores = self._detect(prepared)
        crops = [rec.crop_quad(prepared.frame, q) for q in quads]
        if self.upside_down and crops:
            crops = self._turn_upside_down_lines(crops)
        probs: list[np.ndarray] = [None] * len(crops)  # type: ignore[list-item]
        _, width, _, _ = self._forms["recognizer"]
        if width is None:
            for idx, tensor in rec.batches(crops, self.batch_size):
                for i, p in zip(idx, self._recognise(tensor)):
                    probs[i] = p
        else:
            # a conversion with a fixed width (onnx2tf's TFLite) reads a longer line in overlapping windows: squeezed
            # into the width, a long line's characters narrow below what the recogniser was trained on
            from edgevid.vision import lines

            for i, crop in enumerate(crops):
                probs[i] = lines.stitch(self._recognise(rec.windows(crop, width)), width)
        return Raw(quads, scores, probs)

    def _recognise(self, tensor: np.ndarray) -> np.ndarray:
        """``Nx3xHxW`` line tensors -> the recogniser's ``NxTxC``, in the model's layout and batch size."""
        _, _, nchw, batch = self._forms["recognizer"]
        if not nchw:
            tensor = np.ascontiguousarray(tensor.transpose(0, 2, 3, 1))
        model = self.loaded["recognizer"]
        step = batch or len(tensor)
        return np.concatenate([next(iter(model(tensor[s : s + step]).values())) for s in range(0, len(tensor), step)])

    def postprocess(self, raw: Raw, prepared: Prepared) -> Texts:
        """CTC-decode each line; keep lines read with confidence >= ``min_score``."""
        keep_q, keep_t, keep_s = [], [], []
        for quad, p in zip(raw.quads, raw.probs):
            text, score = ctc.greedy_decode(p[None], self.classes)[0]
            if text.strip() and score >= self.min_score:
                keep_q.append(quad)
                keep_t.append(text)
                keep_s.append(score)
        if not keep_q:
            return Texts()
        return Texts(polygon=np.stack(keep_q).astype(np.float32), text=keep_t, score=np.asarray(keep_s, np.float32))
