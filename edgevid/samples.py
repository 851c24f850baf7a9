"""Built-in sample video for ``edgevid bench`` and ``make demo``: real faces moving over real photos.

Composed deterministically from scikit-image's sample photos (no download), written once to
``$EDGEVID_HOME/samples/``. The ground-truth face boxes of every frame are known exactly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SIZE = (480, 640)
FPS = 10.0
FRAMES = 60
VERSION = 1


def _placements(i: int):
    from .testing.scenes_face import Placement

    # two people: one walks left to right near the camera, one stays far away (small) and drifts
    return [Placement("astronaut", 30 + 6 * i, 110 + int(20 * np.sin(i / 8)), 110),
            Placement("camera", 520 - 2 * i, 330, 48)]


def frames() -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The sample's frames (BGR) and their ground-truth face boxes."""
    from .testing.scenes_face import compose

    backgrounds = ("rocket", "coffee", "brick")
    images, boxes = [], []
    for i in range(FRAMES):
        scene = compose(backgrounds[(i // 20) % 3], SIZE[0], SIZE[1], _placements(i))
        images.append(scene.image)
        boxes.append(scene.boxes)
    return images, boxes


def sample_video() -> Path:
    """Path of the sample video (60 frames, 640x480, 10 fps, MJPG AVI), creating it on first use."""
    import cv2

    from .models.store import home

    path = home() / "samples" / f"faces-v{VERSION}.avi"
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.avi")
    out = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (SIZE[1], SIZE[0]))
    for img in frames()[0]:
        out.write(img)
    out.release()
    tmp.replace(path)  # atomic: a half-written sample is never picked up
    return path
