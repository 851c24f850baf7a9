"""ONNX or TFLite to OpenVINO IR, in fp32 and with fp16 weight compression (``openvino.convert_model``)."""

from __future__ import annotations

from pathlib import Path

from .workers import in_fresh_process


def _convert(src: str, out_xml: str, fp16: bool) -> None:
    import openvino as ov

    ov.save_model(ov.convert_model(src), out_xml, compress_to_fp16=fp16)


def convert(src: Path, out_xml: Path, fp16: bool) -> Path:
    """Write ``out_xml`` (+ ``.bin``) from ``src``; fp16 compresses weights, execution precision is the device's.
    Runs :func:`in_fresh_process`, so the bytes are reproducible."""
    out_xml.parent.mkdir(parents=True, exist_ok=True)
    in_fresh_process(_convert, str(src), str(out_xml), fp16)
    return out_xml


def unreadable(src: Path) -> str | None:
    """Why OpenVINO cannot read ``src`` (one line), or None when it can."""
    import openvino as ov

    try:
        ov.Core().read_model(str(src))
    except RuntimeError as exc:
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        # the last line names the cause ("No translator found for Convolution2DTransposeBias node.")
        return f"OpenVINO cannot read {src.name}: {(lines or ['unknown error'])[-1][:200]}"
    return None
