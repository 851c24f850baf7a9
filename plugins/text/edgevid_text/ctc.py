"""The recogniser's alphabet and CTC greedy decoding.

PP-OCR's recogniser predicts, per horizontal step, a distribution over ``[blank] + dictionary +
[space]``. The dictionary travels inside the ONNX file (metadata key ``character``), so the
alphabet can never drift from the weights.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np

from edgevid.errors import UnsupportedModelError

BLANK = 0
KEY = "character"


def _read_metadata(path: str) -> str | None:
    """The ``character`` metadata string from whichever ONNX reader is installed (cheapest first)."""
    if importlib.util.find_spec("onnx"):
        import onnx

        model = onnx.load(path, load_external_data=False)
        return {p.key: p.value for p in model.metadata_props}.get(KEY)
    if importlib.util.find_spec("openvino"):
        import openvino as ov

        model = ov.Core().read_model(path)
        return model.get_rt_info(["framework", KEY]).astype(str) if model.has_rt_info(["framework", KEY]) else None
    if importlib.util.find_spec("onnxruntime"):
        import onnxruntime as ort

        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        return sess.get_modelmeta().custom_metadata_map.get(KEY)
    return None


@functools.lru_cache(maxsize=4)
def charset(path: str | Path) -> tuple[str, ...]:
    """The recogniser's classes: blank, the dictionary from the model's metadata, then the space (PaddleOCR's order)."""
    text = _read_metadata(str(path))
    if not text:
        raise UnsupportedModelError(
            f"{Path(path).name}: no '{KEY}' dictionary in the model metadata; use the PP-OCR recogniser from the card"
        )
    return ("",) + tuple(text.splitlines()) + (" ",)


def greedy_decode(probs: np.ndarray, classes: tuple[str, ...]) -> list[tuple[str, float]]:
    """``NxTxC`` per-step probabilities -> [(text, score)]: best class per step, repeats merged, blanks dropped.

    The score is the mean of the kept steps' probabilities (0 for an empty string).
    """
    if probs.shape[-1] != len(classes):
        raise UnsupportedModelError(
            f"recogniser outputs {probs.shape[-1]} classes but its dictionary has {len(classes)}; the model and "
            "its metadata do not match"
        )
    best = probs.argmax(axis=2)
    conf = probs.max(axis=2)
    out = []
    for idx, p in zip(best, conf):
        keep = idx != BLANK
        keep[1:] &= idx[1:] != idx[:-1]
        chars = idx[keep]
        out.append(("".join(classes[i] for i in chars), float(p[keep].mean()) if chars.size else 0.0))
    return out
