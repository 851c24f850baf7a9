"""Selection: which backend, device and variant run a model on this target.

(Initial version: walks available backends in a fixed order. The device-profile
selection replaces the order with the matched profile's preferences.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import BackendUnavailableError, ConfigError
from .card import ModelCard, Variant


@dataclass(frozen=True)
class Rejection:
    """A candidate that was not chosen, and why."""

    backend: str
    device: str
    variant: str
    reason: str


@dataclass
class Choice:
    """The selected configuration for one model, with the reasons for it."""

    card: ModelCard
    variant: Variant
    backend: str
    device: str
    precision: str | None = None
    threads: int | None = None
    options: dict[str, Any] = field(default_factory=dict)
    why: str = ""
    profile: str | None = None
    rejected: list[Rejection] = field(default_factory=list)


_ORDER = ("openvino", "tflite", "onnxruntime")


def choose(card: ModelCard, *, registry, backend=None, device=None, variant=None,
           precision=None, threads=None, profile=None) -> Choice:
    """Pick a (backend, device, variant) for ``card``; pinned values are honoured or rejected loudly."""
    rejected: list[Rejection] = []
    names = [backend] if backend else [n for n in _ORDER if n in registry.backends] + sorted(
        set(registry.backends) - set(_ORDER))
    variants = [card.variant(variant)] if variant else list(card.variants)
    for name in names:
        cls = registry.backend(name)
        if not cls.available():
            rejected.append(Rejection(name, device or "*", "*", f"not installed (pip install 'edgevid[{cls.extra}]')"))
            continue
        dev = device or "CPU"
        for v in variants:
            if not cls.reads(v.format):
                rejected.append(Rejection(name, dev, v.name, f"{name} does not read {v.format}"))
                continue
            return Choice(card, v, name, dev, precision, threads, why=f"first available backend that reads {v.format}",
                          profile=profile, rejected=rejected)
    if backend and not registry.backend(backend).available():
        raise BackendUnavailableError(rejected[-1].reason if rejected else f"backend {backend} unavailable")
    reasons = "; ".join(f"{r.backend}/{r.variant}: {r.reason}" for r in rejected)
    raise ConfigError(f"no backend can run model {card.id!r} here ({reasons})")
