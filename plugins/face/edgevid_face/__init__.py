"""edgevid-face: face detection with 6 keypoints on MediaPipe BlazeFace (short- and full-range)."""

from edgevid import hookimpl

from .task import FaceTask

__all__ = ["FaceTask"]


@hookimpl
def register_tasks(register):
    """Register the ``face`` task; its models load when a user asks for it."""
    register(FaceTask)
