"""What a task really feeds its models: captured from real frames, for load-time probes and calibration."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def capture(task, frames: Iterable[np.ndarray], limit: int | None = None,
            results: list | None = None) -> dict[str, list[dict[str, np.ndarray]]]:
    """Run ``frames`` through ``task``; for each model role, the input feeds it received (up to ``limit`` each).
    The task's results are appended to ``results`` when a list is given.

    The task's sessions are wrapped only while this runs; state the frames left behind is reset.
    """
    seen: dict[str, list[dict[str, np.ndarray]]] = {role: [] for role in task.loaded}
    originals = {}
    for role, m in task.loaded.items():
        originals[role] = m.session.run

        def spy(feeds, role=role, run=m.session.run):
            if limit is None or len(seen[role]) < limit:
                seen[role].append({k: np.array(v, copy=True) for k, v in feeds.items()})
            return run(feeds)

        m.session.run = spy
    try:
        for frame in frames:
            out = task.process(frame)
            if results is not None:
                results.append(out)
    finally:
        for role, m in task.loaded.items():
            m.session.run = originals[role]
        task.reset()
    return seen
