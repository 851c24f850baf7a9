"""ONNX or TFLite to OpenVINO IR, in fp32 and with fp16 weight compression (``openvino.convert_model``)."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path


def _offline(fn, *args):
    """``fn(*args)`` with the tools' usage telemetry off: a build talks to no host.

    ``openvino.convert_model`` reports to Google Analytics through ``openvino_telemetry`` (from a
    helper process it starts) unless ``CI=true``; made unimportable here, OpenVINO's converter uses its
    own no-op stub. NNCF's telemetry is off when ``NNCF_CI`` is set.
    """
    import os
    import sys

    sys.modules["openvino_telemetry"] = None  # type: ignore[assignment]
    os.environ["NNCF_CI"] = "1"
    return fn(*args)


def in_fresh_process(fn, *args):
    """``fn(*args)`` in a new (spawned) process with telemetry off (:func:`_offline`), returning its result.

    OpenVINO names the nodes it creates from a process-wide counter, so a conversion in a process that
    converted before writes other names around the same weights; a build is reproducible byte for
    byte only if each conversion starts from a fresh process, with a fixed string hash seed.
    """
    import os

    # tf2onnx names nodes in set-iteration order, which follows the string hash seed: fix it in the child
    saved = os.environ.get("PYTHONHASHSEED")
    os.environ["PYTHONHASHSEED"] = "0"
    try:
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            return pool.submit(_offline, fn, *args).result()
    finally:
        if saved is None:
            del os.environ["PYTHONHASHSEED"]
        else:
            os.environ["PYTHONHASHSEED"] = saved


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
