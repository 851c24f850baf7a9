"""edgevid-motion: motion detection with OpenCV background subtraction — a task with no neural network."""

from edgevid import hookimpl

from .task import MotionResult, MotionTask

__all__ = ["MotionResult", "MotionTask"]


@hookimpl
def register_tasks(register):
    """Register the ``motion`` task."""
    register(MotionTask)
