"""Load time and memory, measured in a fresh process so no cache of this one hides the cost.

Run as ``python -m edgevid.bench.loadtime BACKEND DEVICE PATH THREADS PRECISION [FEEDS.npz]``; prints one
JSON line. ``FEEDS.npz`` holds the inputs a task really fed the model (else a synthetic image is used).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def measure(backend: str, device: str, path: str, threads: int | None, precision: str | None,
            feeds: str | None = None) -> dict:
    """Session creation and first inference times (s), RSS added by loading and peak RSS (MB), in a child."""
    cmd = [sys.executable, "-m", "edgevid.bench.loadtime", backend, device, path, str(threads or 0), precision or "-"]
    cmd += [feeds] if feeds else []
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"error": (proc.stderr.strip().splitlines() or ["load failed"])[-1][:200]}
    return json.loads(lines[-1])


def _main(argv: list[str]) -> None:
    backend, device, path, threads, precision = argv[:5]
    from edgevid.backends.base import LoadOptions
    from edgevid.bench.inputs import feeds_for
    from edgevid.registry import get_registry

    cls = get_registry().require_backend(backend)
    # import the runtime before the clock starts: we time model loading, not Python imports
    __import__(cls.module if backend != "tflite" else "edgevid.backends.tflite")
    if backend == "tflite":
        from edgevid.backends.tflite import _runtime

        _runtime()
    rss0 = _rss_mb()
    t0 = time.perf_counter()
    session = cls.load(path, LoadOptions(device=device, threads=int(threads) or None,
                                         precision=None if precision == "-" else precision))
    t1 = time.perf_counter()
    if len(argv) > 5:
        import numpy as np

        with np.load(argv[5]) as data:
            feeds = {k: data[k] for k in data.files}
    else:
        feeds = feeds_for(session)
    t2 = time.perf_counter()
    result = {"create_s": round(t1 - t0, 4)}
    try:
        session.run(feeds)
        result["first_inference_s"] = round(time.perf_counter() - t2, 4)
    except Exception as exc:  # a synthetic feed the model rejects: creation time still counts
        result["first_inference_s"] = 0.0
        result["first_inference_error"] = str(exc).splitlines()[0][:200]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result.update(rss_added_mb=round(_rss_mb() - rss0, 1), peak_rss_mb=round(peak, 1))
    print(json.dumps(result))


if __name__ == "__main__":
    _main(sys.argv[1:])
