"""Where results go: JSONL on disk (flushed and fsynced at least every second), or a callback.

A sink has ``write(record, frame, result)``, ``flush()`` and ``close()``; the runner closes every
sink on every exit path, so results already produced are on disk even when the run fails.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Any

from ..errors import SinkError


class Sink:
    """Base class of result sinks."""

    def write(self, record: dict[str, Any], frame=None, result=None) -> None:
        """Take one frame's record (and the frame and result objects, for sinks that draw)."""

    def flush(self) -> None:
        """Make everything written so far durable."""

    def close(self) -> None:
        """Flush and release; idempotent."""
        self.flush()


class JsonlSink(Sink):
    """One JSON object per line; flushed and fsynced at least every ``interval`` seconds and on close."""

    def __init__(self, path: str, interval: float = 1.0) -> None:
        self.path, self.interval = path, interval
        try:
            parent = os.path.dirname(os.path.abspath(path))
            os.makedirs(parent, exist_ok=True)
            self.f = open(path, "w", encoding="utf-8")
        except OSError as exc:
            raise SinkError(f"cannot write {path}: {exc.strerror or exc}") from exc
        self.last_sync = time.monotonic()
        self.lines = 0

    def write(self, record: dict[str, Any], frame=None, result=None) -> None:
        """Append ``record`` as one line."""
        try:
            self.f.write(json.dumps(record, separators=(",", ":")) + "\n")
        except OSError as exc:
            raise SinkError(f"cannot write {self.path}: {exc.strerror or exc}") from exc
        self.lines += 1
        if time.monotonic() - self.last_sync >= self.interval:
            self.flush()

    def flush(self) -> None:
        """Flush Python's buffer and fsync the file."""
        if self.f.closed:
            return
        try:
            self.f.flush()
            os.fsync(self.f.fileno())
        except OSError as exc:
            raise SinkError(f"cannot write {self.path}: {exc.strerror or exc}") from exc
        self.last_sync = time.monotonic()

    def close(self) -> None:
        """Flush, fsync and close."""
        if not self.f.closed:
            self.flush()
            self.f.close()


class CallbackSink(Sink):
    """Calls ``fn(record, frame, result)`` in the pipeline's output thread (for embedding)."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn

    def write(self, record: dict[str, Any], frame=None, result=None) -> None:
        """Hand the record to the callback."""
        self.fn(record, frame, result)


def record_for(task, frame, result) -> dict[str, Any]:
    """The JSONL row of one frame: ``frame``, ``task``, ``source``, ``time`` and the task's result payload.

    A result whose ``to_dict`` is a dict (masks, motion) is merged into the row; a list goes under the
    task's ``result_key``.
    """
    row: dict[str, Any] = {"frame": frame.index, "task": task.name, "source": frame.source,
                           "time": round(frame.time, 4)}
    payload = result.to_dict() if hasattr(result, "to_dict") else result
    if isinstance(payload, dict):
        row.update(payload)
    else:
        row[task.result_key] = payload
    return row
