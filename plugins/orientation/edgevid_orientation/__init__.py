"""edgevid-orientation: the worked example of docs/plugins.md — a complete task plugin in one small package."""

from edgevid import hookimpl

from .task import Orientation, OrientationTask

__all__ = ["Orientation", "OrientationTask"]


@hookimpl
def register_tasks(register):
    """Tell edgevid about the task class; edgevid loads its models when a user asks for it."""
    register(OrientationTask)
