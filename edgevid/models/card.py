"""Model cards: what a task's model is, where each variant comes from, and how to feed it.

A card is plain data. A plugin declares one per model; the ``quantize`` toolchain adds
built variants to the model store, and :func:`edgevid.models.catalog.variants` merges both.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Union

from ..errors import ModelNotFoundError


@dataclass(frozen=True)
class WheelSource:
    """A member of a pinned wheel on the package registry, e.g. ``mediapipe==0.10.14``."""

    requirement: str
    member: str

    def describe(self) -> str:
        """Human-readable origin."""
        return f"{self.requirement}:{self.member}"


@dataclass(frozen=True)
class PackageSource:
    """A file shipped inside an installed Python package (``importlib.resources``)."""

    package: str
    resource: str

    def describe(self) -> str:
        """Human-readable origin."""
        return f"{self.package}/{self.resource}"


@dataclass(frozen=True)
class StoreSource:
    """A file built into the model store by ``edgevid build``, relative to ``$EDGEVID_HOME``."""

    path: str

    def describe(self) -> str:
        """Human-readable origin."""
        return f"store:{self.path}"


Source = Union[WheelSource, PackageSource, StoreSource]


@dataclass(frozen=True)
class Sidecar:
    """A file that must sit next to the main artifact (OpenVINO's ``.bin``, ONNX external data)."""

    name: str
    sha256: str
    source: Source


@dataclass(frozen=True)
class Variant:
    """One concrete artifact of a model.

    ``precision`` is the weights' precision (fp32, fp16, bf16, int8); ``compression`` says how
    it was derived (none, quantized, pruned, distilled). ``accuracy`` is the variant's measured
    task metric relative to the fp32 reference (1.0 = identical), ``None`` if never measured.
    """

    name: str
    format: str
    precision: str
    sha256: str
    source: Source
    compression: str = "none"
    size: int | None = None
    accuracy: float | None = None
    metric: str | None = None
    reference: bool = False
    sidecars: tuple[Sidecar, ...] = ()
    recipe: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    #: (backend, reason) pairs: backends that read this format in general but not this file
    #: (e.g. OpenVINO and a TFLite custom op); selection rejects them with the reason
    incompatible: tuple[tuple[str, str], ...] = ()

    def incompatible_reason(self, backend: str) -> str | None:
        """Why ``backend`` cannot run this variant although it reads its format, or ``None``."""
        return dict(self.incompatible).get(backend)

    @property
    def filename(self) -> str:
        """The artifact's file name (what the backend sees)."""
        src = self.source
        tail = src.member if isinstance(src, WheelSource) else src.resource if isinstance(src, PackageSource) else src.path
        return tail.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class InputSpec:
    """How a frame becomes the model's input tensor.

    ``size`` is (height, width); ``None`` in it means dynamic, rounded to ``multiple_of``.
    Normalisation is ``(pixel * scale - mean) / std`` per channel, in ``color`` order.
    """

    size: tuple[int | None, int | None]
    layout: str = "NHWC"
    color: str = "RGB"
    scale: float = 1.0 / 255.0
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    dtype: str = "float32"
    resize: str = "letterbox"
    multiple_of: int = 1


@dataclass(frozen=True)
class ModelCard:
    """A model a task uses: identity, licence, input contract and variants."""

    id: str
    task: str
    title: str
    license: str
    input: InputSpec
    variants: tuple[Variant, ...]
    description: str = ""
    homepage: str = ""
    outputs: tuple[str, ...] = ()

    def variant(self, name: str) -> Variant:
        """The declared variant called ``name``, or :class:`ModelNotFoundError`."""
        for v in self.variants:
            if v.name == name:
                return v
        known = ", ".join(v.name for v in self.variants)
        raise ModelNotFoundError(f"model {self.id!r} has no variant {name!r} (variants: {known})")

    @property
    def reference(self) -> Variant:
        """The fp32 reference variant every other is measured against."""
        for v in self.variants:
            if v.reference:
                return v
        return self.variants[0]

    def with_variants(self, extra: tuple[Variant, ...]) -> ModelCard:
        """A copy with ``extra`` variants appended (built ones from the store)."""
        return replace(self, variants=self.variants + extra)
