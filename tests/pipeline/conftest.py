"""Videos made from real content (scikit-image photos) with known motion, built once per session."""

from __future__ import annotations

import pytest


def write_video(path, frames, fps: float = 10.0, fourcc: str = "mp4v"):
    import cv2

    h, w = frames[0].shape[:2]
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
    for f in frames:
        out.write(f)
    out.release()
    return path


def moving_face_frames(n: int, size=(240, 320)):
    """The astronaut's face sliding right over the rocket photo: frame i has the face at x = 20 + 5 i."""
    from edgevid.testing import scenes_face as sf

    h, w = size
    return [sf.compose("rocket", h, w, [sf.Placement("astronaut", 20 + 5 * i, h // 4, w // 5)]).image for i in range(n)]


@pytest.fixture(scope="session")
def video(tmp_path_factory):
    """A 40-frame 10 fps mp4 (4 s) of a face moving over a real background."""
    return write_video(tmp_path_factory.mktemp("vid") / "faces.mp4", moving_face_frames(40))


@pytest.fixture(scope="session")
def truncated(tmp_path_factory):
    """An MJPG AVI cut in half: its header promises 40 frames, about 20 decode."""
    folder = tmp_path_factory.mktemp("trunc")
    full = write_video(folder / "full.avi", moving_face_frames(40), fourcc="MJPG")
    cut = folder / "truncated.avi"
    data = full.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    return cut
