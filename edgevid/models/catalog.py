"""Every variant of a model: those its card declares plus those ``edgevid build`` put in the store.

Built variants are listed in ``$EDGEVID_HOME/built/<model-id>/manifest.json`` (schema in
``docs/quantize.md``); each entry becomes a :class:`Variant` with a :class:`StoreSource`.
"""

from __future__ import annotations

import json

from ..errors import ModelError
from .card import ModelCard, Sidecar, StoreSource, Variant
from .store import home


def manifest_path(model_id: str):
    """Where the build manifest of ``model_id`` lives."""
    return home() / "built" / model_id / "manifest.json"


def built_variants(model_id: str) -> tuple[Variant, ...]:
    """Variants recorded in the store's build manifest for ``model_id`` (empty if none)."""
    path = manifest_path(model_id)
    if not path.is_file():
        return ()
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"build manifest {path} is unreadable ({exc}); rerun 'edgevid build'") from exc
    out = []
    for v in data.get("variants", []):
        out.append(
            Variant(
                name=v["name"],
                format=v["format"],
                precision=v["precision"],
                sha256=v["sha256"],
                source=StoreSource(v["path"]),
                compression=v.get("compression", "none"),
                size=v.get("size"),
                accuracy=v.get("accuracy"),
                metric=v.get("metric"),
                sidecars=tuple(Sidecar(s["name"], s["sha256"], StoreSource(s["path"])) for s in v.get("sidecars", [])),
                recipe=v.get("recipe", {}),
            )
        )
    return tuple(out)


def variants(card: ModelCard) -> ModelCard:
    """``card`` with built variants appended; a built name shadowing a declared one is skipped."""
    declared = {v.name for v in card.variants}
    extra = tuple(v for v in built_variants(card.id) if v.name not in declared)
    return card.with_variants(extra) if extra else card
