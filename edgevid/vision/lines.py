"""Text lines longer than a fixed-width model's input: overlapping windows in, one sequence out.

A recogniser converted to a fixed input width (onnx2tf's TFLite) would otherwise have a long line
squeezed into that width, its characters narrowed below what it was trained on. The host toolchain
cuts its calibration lines the same way, so int8 ranges come from what the model sees at run time.
"""

from __future__ import annotations

import math

import numpy as np

#: context a window keeps on each side of the span it gives, in pixels of a 48-pixel-high line: the
#: recogniser's attention reads along the line, so a step is read badly without the characters beyond it
MARGIN = 32


def windows(line: np.ndarray, width: int, margin: int = MARGIN) -> np.ndarray:
    """A ``C x H x W`` line tensor, zero-padded right, as ``K x C x H x width`` windows.

    Window ``k`` starts ``k * (width - 2 * margin)`` pixels in; a line no wider than ``width`` is one
    window, zero-padded to it.
    """
    step = width - 2 * margin
    k = 1 + max(0, math.ceil((line.shape[-1] - width) / step))
    canvas = np.zeros(line.shape[:-1] + ((k - 1) * step + width,), line.dtype)
    canvas[..., : line.shape[-1]] = line
    return np.stack([canvas[..., i * step : i * step + width] for i in range(k)])


def stitch(steps: np.ndarray, width: int, margin: int = MARGIN) -> np.ndarray:
    """``K x T x C`` per-step outputs of :func:`windows` -> the line's ``T' x C``.

    Each window gives the steps of its middle (the first also its left margin, the last its right),
    so every step comes from a window that saw ``margin`` pixels on both sides of it. A character
    across a seam comes out as a repeat, which CTC decoding merges as within a window.
    """
    k, t = steps.shape[:2]
    if k == 1:
        return steps[0]
    # PP-OCRv4 emits one step per 8 pixels, which divides both the margin and the window step
    lo, span = round(margin * t / width), round((width - 2 * margin) * t / width)
    return np.concatenate([steps[0, : lo + span]] + [s[lo : lo + span] for s in steps[1:-1]] + [steps[-1, lo:]])
