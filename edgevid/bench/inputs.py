"""Inputs for benchmarking a bare model (``--model PATH``): a real photo shaped to each image input."""

from __future__ import annotations

import numpy as np

#: size used for dynamic spatial dimensions (the usual detector input)
DYNAMIC_HW = 640


def feeds_for(session) -> dict[str, np.ndarray]:
    """One feed per input: 4-D image inputs get scikit-image's astronaut photo resized and scaled to [-1, 1];
    other inputs get zeros of their shape (dynamic dims = 1). Latency of CNNs does not depend on content,
    but a real image keeps data-dependent paths (NMS, early exits) honest.
    """
    import cv2
    from skimage import data

    photo = data.astronaut()
    feeds = {}
    for spec in session.inputs:
        shape = list(spec.shape)
        dtype = np.dtype(spec.dtype if spec.dtype != "bfloat16" else "float32")
        if len(shape) == 4 and spec.layout in ("NHWC", "NCHW"):
            nchw = spec.layout == "NCHW"
            h, w = (shape[2], shape[3]) if nchw else (shape[1], shape[2])
            if h and not w:  # a fixed height and free width is a text-line model: PP-OCR's 48x320 strip
                w = round(h * 320 / 48)
            h, w = h or DYNAMIC_HW, w or DYNAMIC_HW
            img = cv2.resize(photo, (w, h), interpolation=cv2.INTER_AREA)
            if np.issubdtype(dtype, np.integer):
                x = img.astype(dtype)
            else:
                x = (img.astype(np.float32) / 127.5 - 1.0).astype(dtype)
            x = x.transpose(2, 0, 1) if nchw else x
            feeds[spec.name] = np.ascontiguousarray(x[None])
        else:
            feeds[spec.name] = np.zeros([d or 1 for d in shape], dtype)
    return feeds
