"""ONNX or TFLite to OpenVINO IR, in fp32 and with fp16 weight compression (``openvino.convert_model``)."""

from __future__ import annotations

from pathlib import Path


def convert(src: Path, out_xml: Path, fp16: bool) -> Path:
    """Write ``out_xml`` (+ ``.bin``) from ``src``; fp16 compresses weights, execution precision is the device's."""
    import openvino as ov

    model = ov.convert_model(str(src))
    out_xml.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(model, str(out_xml), compress_to_fp16=fp16)
    return out_xml
