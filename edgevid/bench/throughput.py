"""Throughput with several requests in flight: OpenVINO async infer requests; threads for the others."""

from __future__ import annotations

import threading
import time
from pathlib import Path


def openvino_fps(path: Path, device: str, feeds: dict, seconds: float, precision: str | None) -> dict:
    """FPS of an ``AsyncInferQueue`` on a model compiled with the THROUGHPUT hint (streams chosen by OpenVINO)."""
    import openvino as ov

    from ..backends.openvino import core

    config = {"PERFORMANCE_HINT": "THROUGHPUT"}
    if precision:
        config["INFERENCE_PRECISION_HINT"] = {"fp32": "f32"}.get(precision, precision)
    compiled = core().compile_model(str(path), device, config)
    nreq = int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
    q = ov.AsyncInferQueue(compiled, nreq)
    done = 0

    def callback(*_):
        nonlocal done
        done += 1

    q.set_callback(callback)
    for _ in range(nreq):  # warm-up
        q.start_async(feeds)
    q.wait_all()
    done = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        q.start_async(feeds)
    q.wait_all()
    wall = time.perf_counter() - t0
    return {"fps": round(done / wall, 2), "in_flight": nreq, "mode": "AsyncInferQueue, THROUGHPUT hint"}


def threaded_fps(load, feeds: dict, seconds: float, streams: int) -> dict:
    """FPS of ``streams`` independent sessions, each run by its own thread (the runtimes release the GIL)."""
    sessions = [load() for _ in range(streams)]
    counts = [0] * streams
    stop = threading.Event()

    def worker(i: int) -> None:
        s = sessions[i]
        while not stop.is_set():
            s.run(feeds)
            counts[i] += 1

    for s in sessions:
        s.run(feeds)
    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(streams)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    for s in sessions:
        s.close()
    return {"fps": round(sum(counts) / wall, 2), "in_flight": streams, "mode": f"{streams} sessions x 1 thread each"}
