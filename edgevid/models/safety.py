"""Refuse model files that could run code or read outside their folder.

* Pickle-based formats (``.pt``, ``.pth``, ``.pkl``, ``.ckpt``, ...) execute code on load.
* ONNX external data whose ``location`` escapes the model's folder is the path-traversal
  class of CVE-2022-25882 / CVE-2024-27318.
* A file whose leading bytes contradict its suffix is refused before any runtime parses it.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import UnsafeModelError, UnsupportedModelError

PICKLE_SUFFIXES = {".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib", ".npy", ".npz"}
_PICKLE_MAGIC = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")
_ZIP_MAGIC = b"PK\x03\x04"


def check_safe(path: str | Path) -> None:
    """Raise :class:`UnsafeModelError` or :class:`UnsupportedModelError` if ``path`` must not be loaded."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in PICKLE_SUFFIXES:
        raise UnsafeModelError(f"{p.name}: pickle-based model files can execute code and are refused; export to ONNX")
    with open(p, "rb") as f:
        head = f.read(16)
    if head.startswith(_PICKLE_MAGIC) or head.startswith(_ZIP_MAGIC):
        raise UnsafeModelError(f"{p.name}: content is a pickle/zip archive, not a {suffix or 'model'} file; refused")
    if not head:
        raise UnsupportedModelError(f"{p.name}: file is empty")
    if suffix == ".tflite" and head[4:8] != b"TFL3":
        raise UnsupportedModelError(f"{p.name}: not a TFLite flatbuffer (missing TFL3 identifier)")
    if suffix == ".onnx":
        check_onnx_external_data(p)


def check_onnx_external_data(path: Path) -> None:
    """Refuse ONNX initializers whose external-data location leaves the model's folder."""
    try:
        import onnx  # noqa: PLC0415 - heavy, only needed for .onnx files
    except ImportError:
        return  # onnxruntime itself rejects traversal since 1.17; this is defence in depth
    try:
        model = onnx.load_model(str(path), load_external_data=False)
    except Exception as exc:  # malformed protobuf: the runtime would fail or worse
        raise UnsupportedModelError(f"{path.name}: not a valid ONNX model ({str(exc).splitlines()[0][:200]})") from exc
    root = path.parent.resolve()
    for tensor in _initializers(model.graph):
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        location = next((e.value for e in tensor.external_data if e.key == "location"), "")
        target = (root / location).resolve()
        if os.path.isabs(location) or not target.is_relative_to(root):
            raise UnsafeModelError(
                f"{path.name}: external data {location!r} of tensor {tensor.name!r} leaves the model's folder; refused"
            )


def _initializers(graph):
    yield from graph.initializer
    for node in graph.node:
        for attr in node.attribute:
            if attr.g is not None and attr.g.ByteSize():
                yield from _initializers(attr.g)
            for g in attr.graphs:
                yield from _initializers(g)
