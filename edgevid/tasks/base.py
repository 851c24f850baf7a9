"""The task contract: a plugin's class that turns a BGR frame into a result.

The three stages are separate so the pipeline can overlap them across frames; the
default :meth:`Task.process` simply chains them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from ..models.card import ModelCard
from ..models.loaded import LoadedModel


class Task(ABC):
    """Base class of every task plugin.

    Class attributes a subclass sets:

    * ``name`` — the task id users type (``edgevid run face ...``);
    * ``summary`` — one line for ``edgevid list``;
    * ``models`` — role -> :class:`ModelCard` (empty for model-free tasks such as motion);
    * ``result_key`` — the JSONL key its results go under.

    Frames are ``HxWx3`` ``uint8`` BGR (OpenCV's order); results are in source-frame pixels.
    """

    name: ClassVar[str]
    summary: ClassVar[str] = ""
    models: ClassVar[dict[str, ModelCard]] = {}
    result_key: ClassVar[str] = "results"
    #: True when :meth:`infer` keeps no state between frames, so the pipeline may run several
    #: frames' inference at once (state belongs in :meth:`postprocess`, which always runs in order)
    parallel_infer: ClassVar[bool] = False

    def __init__(self, models: dict[str, LoadedModel] | None = None, **options: Any) -> None:
        self.loaded: dict[str, LoadedModel] = dict(models or {})
        self.options = options

    @classmethod
    def roles(cls, **options: Any) -> list[str]:
        """Model roles to load for these options (default: all)."""
        return list(cls.models)

    def preprocess(self, frame: np.ndarray) -> Any:
        """Frame -> whatever :meth:`infer` needs (default: the frame itself)."""
        return frame

    def infer(self, prepared: Any) -> Any:
        """Run the model(s); default passes ``prepared`` through (model-free tasks)."""
        return prepared

    @abstractmethod
    def postprocess(self, raw: Any, prepared: Any) -> Any:
        """Raw outputs -> a result object in source-frame coordinates."""

    def process(self, frame: np.ndarray) -> Any:
        """Run all stages on one frame."""
        prepared = self.preprocess(frame)
        return self.postprocess(self.infer(prepared), prepared)

    __call__ = process

    def reset(self) -> None:
        """Forget per-stream state (trackers, background models) before a new source."""

    def info(self) -> dict[str, Any]:
        """What runs each model role."""
        return {role: m.info() for role, m in self.loaded.items()}

    def close(self) -> None:
        """Release every loaded model."""
        for m in self.loaded.values():
            m.close()

    def __enter__(self) -> Task:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
