"""Frames the toolchain calibrates and measures on: each task's own domain, with calibration and held-out apart.

Calibration frames are composed from real photos with the same generators the tests use, but
different content (other strings, places, scales); the held-out frames are the test sets, which
calibration never sees. Images of the wrong domain are never used: a text detector is calibrated on
text.
"""

from __future__ import annotations

import numpy as np


def _text() -> tuple[list[np.ndarray], list[np.ndarray]]:
    from edgevid.testing import scenes_text as st

    D, S = st.DUPLEX, st.SIMPLEX
    calib = [
        st.compose("cal-grass", "grass", (640, 480), [st.LineSpec("Service Road 3", (40, 80), D, 1.3, 2),
                                                     st.LineSpec("No Parking", (320, 300), S, 1.1, 2)]),
        st.compose("cal-brick", "brick", (640, 480), [st.LineSpec("Door 118", (60, 120), S, 1.6, 3),
                                                     st.LineSpec("LOADING 7", (260, 380), D, 1.0, 2)]),
        st.compose("cal-coffee", "coffee", (1280, 720), [st.LineSpec("Terminal 4 Arrivals", (80, 120), D, 1.5, 2),
                                                        st.LineSpec("Lift 2", (900, 600), S, 1.2, 2)]),
        st.compose("cal-rocket", "rocket", (640, 480), [st.LineSpec("SECTOR 5", (40, 70), D, 1.2, 2, st.LIGHT),
                                                       st.LineSpec("Pump 88", (380, 430), S, 0.9, 2)]),
    ]
    return [s.image for s in calib], [s.image for s in st.standard_scenes()]


def _face() -> tuple[list[np.ndarray], list[np.ndarray]]:
    from edgevid.testing import scenes_face as sf

    calib = [sf.compose(bg, 480, 640, [sf.Placement("camera", 60 + 30 * i, 80, 70 + 20 * i),
                                       sf.Placement("astronaut", 380, 200 + 10 * i, 40 + 10 * i)])
             for i, bg in enumerate(("grass", "brick", "coffee", "rocket"))]
    return [s.image for s in calib], [s.image for s in sf.standard_set()]


#: task -> function giving (calibration frames, held-out frames)
DOMAINS = {"text": _text, "face": _face}


def frames(task: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(calibration, held-out) BGR frames for ``task``."""
    from edgevid.errors import ConfigError

    if task not in DOMAINS:
        raise ConfigError(f"edgevid build: no calibration domain for task {task!r} yet (have: {', '.join(DOMAINS)})")
    return DOMAINS[task]()
