"""From a frame to a model's input tensor, and back: letterbox, normalise, layout."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..errors import UnsupportedModelError


@dataclass(frozen=True)
class Letterbox:
    """Aspect-preserving resize into a ``size`` square, centred, black padding (MediaPipe's ImageToTensor)."""

    size: int
    scale_x: float
    scale_y: float
    pad_x: float
    pad_y: float

    @classmethod
    def fit(cls, height: int, width: int, size: int) -> Letterbox:
        """The letterbox of a ``height x width`` image into ``size``."""
        k = size / max(height, width)
        nw, nh = max(1, round(width * k)), max(1, round(height * k))
        return cls(size, nw / width, nh / height, (size - nw) // 2, (size - nh) // 2)

    def apply(self, image: np.ndarray) -> np.ndarray:
        """The letterboxed image, same dtype."""
        import cv2

        h, w = image.shape[:2]
        nw, nh = round(w * self.scale_x), round(h * self.scale_y)
        # INTER_AREA: frames shrink by up to ~10x here and bilinear would alias
        resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
        out = np.zeros((self.size, self.size) + image.shape[2:], image.dtype)
        px, py = int(self.pad_x), int(self.pad_y)
        out[py:py + nh, px:px + nw] = resized
        return out

    def to_source(self, normalized: np.ndarray) -> np.ndarray:
        """Normalised letterbox coordinates (..., 2) -> continuous source pixels."""
        p = np.asarray(normalized, np.float64) * self.size
        return np.stack([(p[..., 0] - self.pad_x) / self.scale_x, (p[..., 1] - self.pad_y) / self.scale_y], axis=-1)


def input_form(spec) -> tuple[int | None, int | None, bool, int | None]:
    """(height, width, channels_first, batch) of a 4-D image input; ``None`` where the size is dynamic.

    The same model converted for another runtime may differ in all four (onnx2tf writes NHWC, fixed
    size, batch 1), so a task that sizes its own tensors asks the session, not the card."""
    shape = tuple(spec.shape)
    if len(shape) != 4:
        raise UnsupportedModelError(f"expected a 4-D image input, got {spec.name}{list(shape)}")
    nchw = shape[1] == 3 and shape[3] != 3
    h, w = (shape[2], shape[3]) if nchw else (shape[1], shape[2])
    return h, w, nchw, shape[0]


def input_geometry(spec) -> tuple[int, int, bool]:
    """(height, width, channels_first) of a fixed-size 4-D image input :class:`~edgevid.TensorSpec`."""
    h, w, nchw, _ = input_form(spec)
    if h is None or w is None:
        raise UnsupportedModelError(f"input {spec.name} has a dynamic size {list(spec.shape)}; this model needs a fixed one")
    return int(h), int(w), nchw


@lru_cache(maxsize=32)
def _lut(scale: float, mean: tuple[float, ...], std: tuple[float, ...]) -> np.ndarray:
    """uint8 value -> normalised float32, per channel: (v * scale - mean) / std as a 1x256x3 table."""
    v = np.arange(256, dtype=np.float64)[:, None] * scale
    return ((v - np.asarray(mean)) / np.asarray(std)).astype(np.float32)[None]


def image_tensor(rgb: np.ndarray, card_input, nchw: bool) -> np.ndarray:
    """uint8 HxWx3 -> normalised float32 batch of one, per the card's :class:`~edgevid.InputSpec`.

    One table lookup per pixel (``cv2.LUT`` with a float table) instead of three float passes:
    a 20-tile face frame spends 2 ms here instead of 8.
    """
    import cv2

    lut = _lut(float(card_input.scale), tuple(card_input.mean), tuple(card_input.std))
    x = cv2.LUT(np.ascontiguousarray(rgb), lut)
    return (x.transpose(2, 0, 1) if nchw else x)[None]
