"""The embedding API: load a task, run it on frames.

    task = edgevid.load("face")            # backend, device and variant chosen for this host
    result = task(frame_bgr)               # one frame
"""

from __future__ import annotations

from typing import Any

from .backends.base import LoadOptions
from .models import store
from .models.card import ModelCard
from .models.catalog import variants
from .models.loaded import LoadedModel
from .models.select import Choice, choose
from .registry import get_registry


def plan(task: str, **pins: Any) -> dict[str, Choice]:
    """The (backend, device, variant) chosen for each model role of ``task``, without loading anything.

    ``pins`` are ``backend``, ``device``, ``variant``, ``precision``, ``threads`` and ``profile``.
    """
    reg = get_registry()
    cls = reg.task(task)
    options = pins.pop("options", {}) or {}
    return {role: choose(variants(cls.models[role]), registry=reg, **pins) for role in cls.roles(**options)}


def load_model(card: ModelCard, choice: Choice) -> LoadedModel:
    """Fetch (or reuse) the chosen variant's artifact and load it on the chosen backend."""
    backend = get_registry().require_backend(choice.backend)
    path = store.fetch(choice.variant)
    opts = LoadOptions(
        device=choice.device,
        threads=choice.threads,
        precision=choice.precision,
        cache_dir=store.home() / "compiled",
        options=dict(choice.options),
    )
    return LoadedModel(card=card, variant=choice.variant, session=backend.load(path, opts), path=path)


def load(
    task: str,
    *,
    backend: str | None = None,
    device: str | None = None,
    variant: str | None = None,
    precision: str | None = None,
    threads: int | None = None,
    profile: str | None = None,
    **options: Any,
):
    """Load ``task`` ready to call on frames; every choice can be pinned, the rest is selected for this host.

    Extra keyword ``options`` go to the task (e.g. ``score_threshold=0.6``).
    """
    reg = get_registry()
    cls = reg.task(task)
    choices = plan(
        task, backend=backend, device=device, variant=variant, precision=precision,
        threads=threads, profile=profile, options=options,
    )
    loaded: dict[str, LoadedModel] = {}
    try:
        for role, choice in choices.items():
            loaded[role] = load_model(choice.card, choice)
    except BaseException:
        for m in loaded.values():
            m.close()
        raise
    return cls(loaded, **options)
