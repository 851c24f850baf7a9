"""Selection: which backend, device and variant run a model on this target, and why.

The matched device profile ranks (backend, device, precision) preferences and variant orders; a
bench result stored for this host (``edgevid bench --recommend``) goes first, because a measurement
here beats a profile's guess. Pinned values are honoured or rejected loudly, and every candidate
passed over is kept with its reason for ``edgevid explain``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BackendUnavailableError, ConfigError, DeviceUnavailableError
from .card import ModelCard, Variant

#: a variant measured below this fraction of the fp32 metric is never chosen unless pinned
ACCURACY_FLOOR = 0.99


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

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (for ``edgevid explain --json``)."""
        return {
            "model": self.card.id, "variant": self.variant.name, "format": self.variant.format,
            "backend": self.backend, "device": self.device, "precision_hint": self.precision,
            "threads": self.threads, "options": self.options, "why": self.why, "profile": self.profile,
            "rejected": [r.__dict__ for r in self.rejected],
        }


def measured_file() -> Path:
    """Where ``edgevid bench --recommend`` stores this host's measured best configuration per model."""
    from .store import home

    return home() / "bench" / "recommended.json"


def measured(card_id: str) -> dict[str, Any] | None:
    """The stored measured-best ``{backend, device, variant, why}`` for ``card_id`` on this host, if any."""
    path = measured_file()
    try:
        return json.loads(path.read_text()).get(card_id)
    except (OSError, ValueError):
        return None


def _threads(spec, host) -> int | None:
    if spec is None or isinstance(spec, int):
        return spec
    if spec == "physical":
        return max(1, host.cpu.cores // max(1, getattr(host.cpu, "smt", 1)))
    return host.cpu.cores


def _ordered(card: ModelCard, order: tuple[str, ...]) -> tuple[list[Variant], list[Variant]]:
    """(card variants the preference accepts, ranked by its order; the ones it does not accept).

    The order is strict: an EdgeTPU or NPU preference that lists only int8 must never get fp32.
    """
    def rank(v: Variant) -> int | None:
        for i, key in enumerate(order):
            if key in (v.name, v.precision):
                return i
        return None
    accepted = sorted((v for v in card.variants if rank(v) is not None), key=rank)
    return accepted, [v for v in card.variants if rank(v) is None]


def choose(card: ModelCard, *, registry, backend: str | None = None, device: str | None = None,
           variant: str | None = None, precision: str | None = None, threads: int | None = None,
           profile: str | None = None, host=None) -> Choice:
    """Pick a (backend, device, variant) for ``card`` on ``host`` (default: this machine) under ``profile``."""
    from ..devices import profiles
    from ..devices.probe import this_host
    from ..devices.profiles import Preference

    # measurements describe this machine: a simulated host (tests, --device what-ifs) never uses them
    use_measured = host is None and not (backend or device or variant or profile)
    host = host or this_host()
    prof, matched = (profiles.get(profile), ["named by the user"]) if profile else profiles.match(host)
    device = device.upper() if device else None
    prefs = list(prof.prefer)
    stored = measured(card.id) if use_measured else None
    if stored:
        prefs.insert(0, Preference(stored["backend"], stored["device"], stored.get("why", "measured fastest here"),
                                   precision=stored.get("precision_hint"), variants=(stored["variant"],)))
    # registered backends the profile does not mention still get a chance, last
    named = {p.backend for p in prefs}
    prefs += [Preference(b, "CPU", "not ranked by the profile; tried last") for b in sorted(registry.backends)
              if b not in named]
    if backend:
        prefs = [p for p in prefs if p.backend == backend] or [Preference(backend, device or "CPU", "pinned")]
    if device:
        prefs = [p for p in prefs if p.device == device] or [
            Preference(p.backend, device, "pinned device", variants=p.variants) for p in prefs[:1]]
    if variant:
        card.variant(variant)  # unknown names fail here, with the list of variants

    rejected: list[Rejection] = []
    for p in prefs:
        cls = registry.backends.get(p.backend)
        info = host.backends.get(p.backend, {})
        if cls is None:
            rejected.append(Rejection(p.backend, p.device, "*", "no installed plugin registers this backend"))
            continue
        if not info.get("available"):
            rejected.append(Rejection(p.backend, p.device, "*", f"not installed (pip install 'edgevid[{cls.extra}]')"))
            continue
        if p.device not in info.get("devices", []):
            rejected.append(Rejection(p.backend, p.device, "*",
                                      f"{p.backend} has no {p.device} here (devices: {', '.join(info.get('devices', []))})"))
            continue
        if variant:
            candidates = [card.variant(variant)]
        else:
            candidates, refused = _ordered(card, p.variants)
            rejected += [Rejection(p.backend, p.device, v.name, f"profile runs only {', '.join(p.variants)} here")
                         for v in refused]
        for v in candidates:
            if not cls.reads(v.format):
                rejected.append(Rejection(p.backend, p.device, v.name, f"{p.backend} does not read {v.format}"))
                continue
            if v.incompatible_reason(p.backend):
                rejected.append(Rejection(p.backend, p.device, v.name, v.incompatible_reason(p.backend)))
                continue
            if not variant and v.accuracy is not None and v.accuracy < ACCURACY_FLOOR:
                rejected.append(Rejection(p.backend, p.device, v.name,
                                          f"accuracy {v.accuracy:.3f} of fp32 is below the floor {ACCURACY_FLOOR}"))
                continue
            why = f"profile {prof.id} ({'; '.join(matched)}): {p.why}"
            return Choice(card, v, p.backend, p.device, precision or p.precision,
                          threads or _threads(p.threads, host), dict(p.options), why, prof.id, rejected)
    reasons = "; ".join(f"{r.backend}/{r.device}/{r.variant}: {r.reason}" for r in rejected)
    if backend and all(r.backend == backend and "not installed" in r.reason for r in rejected):
        raise BackendUnavailableError(f"backend {backend!r} is {rejected[0].reason}")
    if device and rejected and all(" has no " in r.reason for r in rejected):
        raise DeviceUnavailableError(f"no backend has device {device!r} here ({reasons})")
    raise ConfigError(f"no backend can run model {card.id!r} here ({reasons})")
