"""edgevid-pose: single-person body pose with MediaPipe BlazePose (detector + full landmark model, ROI tracking)."""

from edgevid import hookimpl

from .task import PoseEstimate, PoseTask

__all__ = ["PoseEstimate", "PoseTask"]


@hookimpl
def register_tasks(register):
    """Register the ``pose`` task; its models load when a user asks for it."""
    register(PoseTask)
