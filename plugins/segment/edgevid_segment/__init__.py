"""edgevid-segment: person segmentation with MediaPipe selfie segmentation (general and landscape)."""

from edgevid import hookimpl

from .task import SegmentTask

__all__ = ["SegmentTask"]


@hookimpl
def register_tasks(register):
    """Register the ``segment`` task; its models load when a user asks for it."""
    register(SegmentTask)
