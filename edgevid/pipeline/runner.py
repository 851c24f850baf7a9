"""Pipelined execution: decode, pre-process, inference and post-process overlap in threads.

Each stage is one thread joined to the next by a small bounded queue, so end-to-end throughput
approaches the slowest stage rather than the sum of all stages (OpenCV and the runtimes release
the GIL while they work). One thread per stage keeps frames in order. A failure in any stage stops
the others; frames already finished are still written, and the error is raised after that.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..tasks.results import Detections
from .sinks import Sink, record_for
from .sources import Frame, Source

_END = object()


@dataclass
class StageTimes:
    """Seconds spent in each stage and frames through it (for per-stage FPS)."""

    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(("decode", "preprocess", "infer", "postprocess", "sink"), 0.0))
    frames: int = 0

    def fps(self) -> dict[str, float]:
        """Frames per second each stage alone would sustain."""
        return {k: (self.frames / v if v > 0 else float("inf")) for k, v in self.seconds.items()}


@dataclass
class RunStats:
    """What a run did: frames processed, wall time, per-stage times and each source's accounting."""

    frames: int = 0
    wall: float = 0.0
    stages: StageTimes = field(default_factory=StageTimes)
    sources: dict[str, dict] = field(default_factory=dict)
    interrupted: bool = False

    @property
    def fps(self) -> float:
        """End-to-end frames per second."""
        return self.frames / self.wall if self.wall > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {"frames": self.frames, "wall_s": round(self.wall, 3), "fps": round(self.fps, 2),
                "stage_seconds": {k: round(v, 4) for k, v in self.stages.seconds.items()},
                "sources": self.sources, "interrupted": self.interrupted}


def inference_threads(task_cls, threads: int | None) -> int | None:
    """Threads per inference for a pipelined run: 1 when several frames infer at once (one per core),
    else ``threads`` (``None``: the profile's choice). Measured on 2 cores, 720p faces: 2 workers x 1
    thread gave 1.35x the plain loop; 1 worker x 2 threads only 1.06x (small models scale badly).
    """
    if threads is None and getattr(task_cls, "parallel_infer", False) and (os.cpu_count() or 1) > 1:
        return 1
    return threads


class Pipeline:
    """Runs ``task`` over ``sources`` (one after another) into ``sinks``.

    ``queue_size`` bounds each inter-stage queue: enough to keep every stage busy, small enough
    that a slow stage applies back-pressure instead of buffering a video in memory.
    """

    def __init__(self, task, sources: list[Source], sinks: list[Sink] | None = None, *, queue_size: int = 4,
                 pipelined: bool = True, infer_workers: int | None = None, tracker=None, events=None) -> None:
        self.task, self.sources, self.sinks = task, sources, list(sinks or [])
        #: a :class:`~edgevid.tracking.bytetrack.ByteTracker` (or alike) that gives detections stable ids
        self.tracker = tracker
        #: an :class:`~edgevid.events.engine.EventEngine` that turns results into events (default: motion only)
        if events is None:
            from ..events.engine import EventEngine

            events = EventEngine()
        self.events = events
        self.last_events: list[dict] = []
        self.queue_size, self.pipelined = queue_size, pipelined
        # Several frames in inference at once (like OpenVINO streams), for tasks whose inference keeps
        # no state between frames; results are put back in order before post-processing.
        if infer_workers is None:
            infer_workers = min(2, os.cpu_count() or 1) if getattr(task, "parallel_infer", False) else 1
        self.infer_workers = max(1, infer_workers)
        self.stats = RunStats()
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._abort = threading.Event()
        self._failed: int | None = None
        self._lock = threading.Lock()
        self.current: Source | None = None

    def stop(self) -> None:
        """Graceful stop: sources stop reading, frames already in the queues are finished."""
        self.stats.interrupted = True
        self._stop.set()
        for s in self.sources:
            s.stop()

    def _timed(self, stage: str, fn, *args):
        t0 = time.perf_counter()
        out = fn(*args)
        dt = time.perf_counter() - t0
        with self._lock:
            self.stats.stages.seconds[stage] += dt
        return out

    def _put(self, q: queue.Queue, item, stage: int) -> None:
        """Blocking put that gives up only when nobody downstream of ``stage`` will ever read again."""
        while True:
            try:
                q.put(item, timeout=0.1)
                return
            except queue.Full:
                if self._abort.is_set() or (self._failed is not None and self._failed > stage):
                    return

    def _worker(self, stage: int, name: str, inbox: queue.Queue | None, outbox: queue.Queue, fn,
                ends_out: int = 1) -> None:
        try:
            if inbox is None:  # the decode stage pulls from the source and numbers the frames
                it = iter(self.current)
                seq = 0
                while True:
                    item = self._timed("decode", next, it, _END)
                    if item is _END:
                        break
                    self._put(outbox, (seq, item), stage)
                    seq += 1
            else:
                # Drain everything upstream sends, even after an upstream failure: frames decoded
                # before a corrupt one are still processed and written.
                while True:
                    item = inbox.get()
                    if item is _END or self._abort.is_set():
                        break
                    self._put(outbox, item + (self._timed(name, fn, item[-1]),), stage)
        except BaseException as exc:  # handed to the output thread, which raises it after the drain
            if self._error is None:
                self._error, self._failed = exc, stage
            self.current.stop()
        finally:
            for _ in range(ends_out):  # one per consumer thread
                self._put(outbox, _END, stage)

    def _frames_threaded(self) -> Iterator[tuple[Frame, Any, Any]]:
        qs = [queue.Queue(self.queue_size) for _ in range(3)]
        task = self.task
        workers = self.infer_workers
        threads = [
            threading.Thread(target=self._worker, args=(0, "decode", None, qs[0], None), daemon=True),
            threading.Thread(target=self._worker, args=(1, "preprocess", qs[0], qs[1],
                                                        lambda frame: task.preprocess(frame.image), workers),
                             daemon=True),
        ] + [threading.Thread(target=self._worker, args=(2, "infer", qs[1], qs[2],
                                                         lambda prepared: task.infer(prepared)), daemon=True)
             for _ in range(workers)]
        for t in threads:
            t.start()
        finished = False
        pending: dict[int, tuple] = {}  # out-of-order results from parallel inference, by sequence number
        next_seq, ends = 0, 0
        try:
            while True:
                item = qs[2].get()
                if item is _END:
                    ends += 1
                    if ends < workers:
                        continue
                    finished = True
                    break
                pending[item[0]] = item[1:]
                while next_seq in pending:
                    yield pending.pop(next_seq)
                    next_seq += 1
            for seq in sorted(pending):  # after a failure upstream a gap can remain: flush the rest in order
                yield pending.pop(seq)
        finally:
            if not finished:  # the consumer left early or failed: stop the producers and unblock them
                self._abort.set()
                self.current.stop()
            while any(t.is_alive() for t in threads):
                for q in qs:
                    while not finished and not q.empty():
                        q.get_nowait()
                for t in threads:
                    t.join(timeout=0.05)
        if self._error is not None:
            raise self._error

    def _frames_sequential(self) -> Iterator[tuple[Frame, Any, Any]]:
        it = iter(self.current)
        while True:
            frame = self._timed("decode", next, it, _END)
            if frame is _END:
                return
            prepared = self._timed("preprocess", self.task.preprocess, frame.image)
            yield frame, prepared, self._timed("infer", self.task.infer, prepared)

    def results(self) -> Iterator[tuple[Frame, Any]]:
        """Yield ``(frame, result)`` in source order, for every source in turn; sinks are written too."""
        t0 = time.perf_counter()
        try:
            for source in self.sources:
                if self._stop.is_set():
                    break
                self.current = source
                self._abort.clear()
                self.task.reset()
                if self.tracker is not None:
                    self.tracker.reset()
                self.events.reset()
                frames = self._frames_threaded() if self.pipelined else self._frames_sequential()
                try:
                    for frame, prepared, raw in frames:
                        result = self._timed("postprocess", self.task.postprocess, raw, prepared)
                        if self.tracker is not None and isinstance(result, Detections):
                            result = self._timed("postprocess", self.tracker.assign, result)
                        self.last_events = self.events.update(frame, result)
                        if self.sinks:
                            row = record_for(self.task, frame, result)
                            if self.last_events or "events" in row:
                                row["events"] = self.last_events
                            for sink in self.sinks:
                                self._timed("sink", sink.write, row, frame, result)
                        self.stats.frames += 1
                        self.stats.stages.frames += 1
                        yield frame, result
                finally:
                    self.stats.sources[source.name] = source.stats.as_dict()
        finally:
            self.stats.wall += time.perf_counter() - t0

    def run(self, progress=None) -> RunStats:
        """Process everything; ``progress(stats)`` is called after each frame. Sinks are closed on every path."""
        try:
            for _ in self.results():
                if progress is not None:
                    progress(self.stats)
        finally:
            self.close()
        return self.stats

    def close(self) -> None:
        """Close every source and sink (flushing results), even after a failure."""
        first: BaseException | None = None
        for s in self.sources:
            try:
                s.close()
            except Exception as exc:  # keep closing the rest; report the first problem
                first = first or exc
        for sink in self.sinks:
            try:
                sink.close()
            except Exception as exc:
                first = first or exc
        if first is not None:
            raise first
