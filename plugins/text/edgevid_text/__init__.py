"""edgevid-text: find and read text lines in video frames with PaddleOCR's PP-OCRv4 models."""

from edgevid import hookimpl

from .task import TextTask

__all__ = ["TextTask"]


@hookimpl
def register_tasks(register):
    """Register the ``text`` task; its models load only when a user asks for it."""
    register(TextTask)
