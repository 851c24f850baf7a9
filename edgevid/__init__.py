"""edgevid: video AI on edge devices.

Importing this package is cheap: no inference runtime, OpenCV or CLI library is
imported until you load a model. Public names are resolved lazily.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "load": "edgevid.api",
    "plan": "edgevid.api",
    "stream": "edgevid.pipeline.api",
    "Task": "edgevid.tasks.base",
    "Detections": "edgevid.tasks.results",
    "Poses": "edgevid.tasks.results",
    "Texts": "edgevid.tasks.results",
    "Mask": "edgevid.tasks.results",
    "ModelCard": "edgevid.models.card",
    "Variant": "edgevid.models.card",
    "InputSpec": "edgevid.models.card",
    "WheelSource": "edgevid.models.card",
    "PackageSource": "edgevid.models.card",
    "Backend": "edgevid.backends.base",
    "Session": "edgevid.backends.base",
    "LoadOptions": "edgevid.backends.base",
    "TensorSpec": "edgevid.backends.base",
    "hookimpl": "edgevid.hookspecs",
    "EdgevidError": "edgevid.errors",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'edgevid' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # cache: later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # pragma: no cover
    from .api import load, plan
    from .pipeline.api import stream
    from .backends.base import Backend, LoadOptions, Session, TensorSpec
    from .errors import EdgevidError
    from .hookspecs import hookimpl
    from .models.card import InputSpec, ModelCard, PackageSource, Variant, WheelSource
    from .tasks.base import Task
    from .tasks.results import Detections, Mask, Poses, Texts
