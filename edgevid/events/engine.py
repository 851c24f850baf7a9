"""Turns tracked results into events, each with a UUID, the source time, a UTC timestamp and the source.

* ``zone_enter`` / ``zone_exit`` — a track's anchor point (bottom centre of its box: where a person
  stands) goes into or out of a zone; a track that disappears while inside exits with ``"lost": true``;
* ``line_cross`` — the anchor changes side of a line within its extent, with ``direction``
  ``a_to_b`` or ``b_to_a``; it must move ``hysteresis`` pixels past the line, so jitter on the line
  does not produce a stream of crossings;
* ``motion_start`` / ``motion_stop`` — from the motion task's debounced state.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import numpy as np

from ..tasks.results import Detections
from .zones import Layout


def _event(kind: str, frame, **fields: Any) -> dict[str, Any]:
    return {"event_id": str(uuid.uuid4()), "type": kind, "time": round(frame.time, 4), "frame": frame.index,
            "timestamp": dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds"),
            "source": frame.source, **fields}


class EventEngine:
    """Per-source state: which track is in which zone, on which side of which line."""

    def __init__(self, layout: Layout | None = None, hysteresis: float = 4.0, lost_after: int = 30) -> None:
        self.template = layout or Layout()
        self.layout = self.template
        self.hysteresis, self.lost_after = hysteresis, lost_after
        self.reset()

    def reset(self) -> None:
        """Forget all state (a new source)."""
        self.inside: dict[tuple[int, str], bool] = {}
        self.side: dict[tuple[int, str], float] = {}
        self.seen: dict[int, int] = {}
        self.count = 0

    def update(self, frame, result) -> list[dict[str, Any]]:
        """Events caused by this frame's ``result``."""
        self.count += 1
        if self.count == 1:  # normalised zones take this source's frame size
            h, w = frame.image.shape[:2]
            self.layout = self.template.in_pixels(w, h)
        events: list[dict[str, Any]] = []
        for e in getattr(result, "events", None) or []:  # motion's debounced start/stop
            kind = e.get("type", e.get("event", "motion"))
            kind = kind if kind.startswith("motion") else f"motion_{kind}"
            events.append(_event(kind, frame, **{k: v for k, v in e.items() if k not in ("type", "event", "frame")}))
        dets = result if isinstance(result, Detections) else None
        if dets is not None and dets.tracker_id is not None:
            for box, tid in zip(dets.xyxy, dets.tracker_id):
                if tid < 0:
                    continue
                tid = int(tid)
                self.seen[tid] = self.count
                anchor = np.array([(box[0] + box[2]) / 2, box[3]], np.float64)
                events += self._zones(frame, tid, anchor) + self._lines(frame, tid, anchor)
        for tid, last in list(self.seen.items()):  # tracks gone for good leave their zones
            if self.count - last > self.lost_after:
                del self.seen[tid]
                for (t, zone), inside in list(self.inside.items()):
                    if t == tid:
                        if inside:
                            events.append(_event("zone_exit", frame, track_id=tid, zone=zone, lost=True))
                        del self.inside[t, zone]
                for key in [k for k in self.side if k[0] == tid]:
                    del self.side[key]
        return events

    def _zones(self, frame, tid: int, anchor: np.ndarray) -> list[dict[str, Any]]:
        out = []
        for zone in self.layout.zones:
            now, before = zone.contains(anchor), self.inside.get((tid, zone.name), False)
            if now != before:
                out.append(_event("zone_enter" if now else "zone_exit", frame, track_id=tid, zone=zone.name))
            self.inside[tid, zone.name] = now
        return out

    def _lines(self, frame, tid: int, anchor: np.ndarray) -> list[dict[str, Any]]:
        out = []
        for line in self.layout.lines:
            d = line.side(anchor)
            if abs(d) < self.hysteresis:
                continue  # too close to call: keep the last confident side
            prev = self.side.get((tid, line.name))
            if prev is not None and np.sign(prev) != np.sign(d) and line.spans(anchor):
                out.append(_event("line_cross", frame, track_id=tid, line=line.name,
                                  direction="a_to_b" if prev < 0 else "b_to_a"))
            self.side[tid, line.name] = d
        return out
