"""The streaming API for firmware scripts: iterate over a task's results on any source.

    for r in edgevid.stream("face", "rtsp://camera/stream"):
        print(r.frame, r.time, len(r.result))
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class StreamResult:
    """One processed frame: its source index and time, the BGR ``image`` and the task's ``result``."""

    frame: int
    time: float
    source: str
    image: np.ndarray
    result: Any
    #: events this frame caused (zones, lines, motion), each with an ``event_id``
    events: list = None  # type: ignore[assignment]

    def to_dict(self) -> dict[str, Any]:
        """The same JSON row ``edgevid run`` writes."""
        from .sinks import record_for

        class _F:  # record_for reads only these attributes
            index, time, source = self.frame, self.time, self.source

        return record_for(self._task, _F, self.result)


def stream(task: str | Any, *sources: str, fps: float | None = None, stride: int = 1, start: float = 0.0,
           end: float | None = None, pipelined: bool = True, track: bool = True, zones: str | None = None,
           **load_options: Any) -> Iterator[StreamResult]:
    """Yield a :class:`StreamResult` per processed frame of each source, in order, through the pipeline.

    ``task`` is a task name (loaded with ``load_options``: backend, device, variant, task options) or an
    already loaded task. Detections get stable ``track_id``s unless ``track=False``; ``zones`` is a
    zones file whose zone/line events appear in ``r.events``. Breaking out of the loop stops the
    sources and releases them.
    """
    from ..api import load
    from .runner import Pipeline, inference_threads
    from .sources import Sampling, open_source

    owned = isinstance(task, str)
    sampling = Sampling(fps=fps, stride=stride, start=start, end=end)
    opened = []
    try:
        for spec in sources:
            opened.append(open_source(spec, sampling))
        if owned and pipelined:
            from ..registry import get_registry

            load_options["threads"] = inference_threads(get_registry().task(task), load_options.get("threads"))
        loaded = load(task, **load_options) if owned else task
    except BaseException:
        for s in opened:
            s.close()
        raise
    from ..events.engine import EventEngine
    from ..events.zones import load as load_zones
    from ..tracking.bytetrack import ByteTracker

    layout = load_zones(zones) if zones else None
    pipe = Pipeline(loaded, opened, pipelined=pipelined, tracker=ByteTracker() if track else None,
                    events=EventEngine(layout))
    try:
        for frame, result in pipe.results():
            r = StreamResult(frame.index, frame.time, frame.source, frame.image, result, list(pipe.last_events))
            r._task = loaded
            yield r
    finally:
        pipe.close()
        if owned:
            loaded.close()
