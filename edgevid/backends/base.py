"""The backend contract: a runtime loads a model file into a :class:`Session`.

A backend never imports its runtime at module import time: :meth:`Backend.available`
asks ``importlib.util.find_spec``, and the runtime is imported inside ``load``.
Neither backends nor sessions know that video exists: they take numpy feeds.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..errors import EdgevidError, InferenceError, UnsupportedModelError

#: model file suffix -> format id used throughout edgevid
FORMATS = {".onnx": "onnx", ".tflite": "tflite", ".xml": "openvino"}


def format_of(path: str | Path) -> str:
    """The format id of a model file from its suffix, or :class:`UnsupportedModelError`."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise UnsupportedModelError(
            f"{Path(path).name}: unsupported model format {suffix or '(none)'!r}; expected .onnx, .tflite or OpenVINO .xml"
        )
    return FORMATS[suffix]


@dataclass(frozen=True)
class TensorSpec:
    """One input or output of a loaded model. ``None`` in ``shape`` marks a dynamic dimension."""

    name: str
    shape: tuple[int | None, ...]
    dtype: str
    layout: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype, "layout": self.layout}


def guess_layout(shape: tuple[int | None, ...]) -> str | None:
    """NHWC or NCHW for a 4-D image tensor whose channel axis is 1 or 3, else ``None``."""
    if len(shape) != 4:
        return None
    if shape[3] in (1, 3, 4) and shape[1] not in (1, 3, 4):
        return "NHWC"
    if shape[1] in (1, 3, 4) and shape[3] not in (1, 3, 4):
        return "NCHW"
    return None


@dataclass(frozen=True)
class LoadOptions:
    """How to load a model: device, threads and execution precision are hints the backend honours or reports.

    ``precision`` is the *execution* precision hint ("f32", "bf16", "f16"); ``None`` keeps the
    runtime's default, which the session then reports (OpenVINO picks bf16 on AVX-512 BF16 CPUs).
    """

    device: str = "CPU"
    threads: int | None = None
    precision: str | None = None
    cache_dir: Path | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


class Session(ABC):
    """A model loaded on one backend and device. Use as a context manager or call :meth:`close`."""

    backend: str
    device: str
    #: execution precision actually used, as the runtime reports it ("f32", "bf16", "int8", ...)
    precision: str
    threads: int | None = None
    #: things the user should know about how the hints were honoured (e.g. an ignored precision hint)
    notes: list[str] = []
    path: Path
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]

    @abstractmethod
    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run one inference: input name -> array in, output name -> array out."""

    def close(self) -> None:
        """Release the runtime's resources; idempotent."""

    def info(self) -> dict[str, Any]:
        """What actually runs: backend, device, precision, threads (for reports and ``explain``)."""
        info = {"backend": self.backend, "device": self.device, "precision": self.precision, "threads": self.threads}
        if self.notes:
            info["notes"] = list(self.notes)
        return info

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Backend(ABC):
    """A runtime that turns model files into sessions. Subclasses set the class attributes."""

    name: ClassVar[str]
    #: top-level module whose presence means the runtime is installed
    module: ClassVar[str]
    #: distribution names to read the version from, first found wins
    distributions: ClassVar[tuple[str, ...]] = ()
    #: pip extra of edgevid that installs it
    extra: ClassVar[str]
    #: model formats this backend reads
    formats: ClassVar[frozenset[str]]

    @classmethod
    def available(cls) -> bool:
        """True when the runtime is importable; imports nothing."""
        return importlib.util.find_spec(cls.module) is not None

    @classmethod
    def version(cls) -> str | None:
        """The installed runtime's version, read from package metadata (no import)."""
        for dist in cls.distributions or (cls.module,):
            with contextlib.suppress(importlib.metadata.PackageNotFoundError):
                return importlib.metadata.version(dist)
        return None

    @classmethod
    def reads(cls, fmt: str) -> bool:
        """True if this backend can load models of format ``fmt``."""
        return fmt in cls.formats

    @classmethod
    @abstractmethod
    def devices(cls) -> list[str]:
        """Devices this runtime can use on this host, e.g. ``["CPU", "GPU"]`` (imports the runtime)."""

    @classmethod
    def precisions(cls, device: str) -> list[str | None]:
        """Execution-precision hints worth comparing on ``device``; ``None`` is the runtime's default.

        Backends that always run the model's own precision return ``[None]``.
        """
        return [None]

    @classmethod
    @abstractmethod
    def load(cls, path: str | Path, options: LoadOptions | None = None) -> Session:
        """Load ``path`` into a :class:`Session` on ``options.device``."""


@contextlib.contextmanager
def translate_errors(backend: str, path: str | Path, stage: str) -> Iterator[None]:
    """Re-raise a runtime's native exception as the most specific edgevid error, ``from`` the original.

    ``stage`` is "load" (the runtime rejected the file: :class:`UnsupportedModelError`) or
    "run" (:class:`InferenceError`).
    """
    try:
        yield
    except EdgevidError:
        raise
    except Exception as exc:  # native runtimes raise assorted types; the message is what matters
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        name = Path(path).name
        if stage == "load":
            raise UnsupportedModelError(f"{backend} cannot load {name}: {first[:300]}") from exc
        raise InferenceError(f"{backend} failed running {name}: {first[:300]}") from exc
