"""Toolchain jobs in a fresh, offline process: reproducible bytes, and no host contacted."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor


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
