"""Loading candidate models and measuring them: the whole task with one model swapped in, against fp32."""

from __future__ import annotations

from pathlib import Path

from edgevid.api import load_model
from edgevid.backends.base import format_of
from edgevid.bench.accuracy import agreement
from edgevid.models import store
from edgevid.models.select import Choice
from edgevid.registry import get_registry

#: the runtime that runs a source format as its vendor does (the fp32 reference)
NATIVE = {"tflite": "tflite", "onnx": "onnxruntime"}


def float_models(task: str, role: str, options: dict) -> dict:
    """Every model of ``task`` but ``role`` (those ``options`` load), fp32 on its native runtime."""
    cls = get_registry().task(task)
    out = {}
    for r in cls.roles(**options):
        if r != role:
            card = cls.models[r]
            ref = card.reference
            out[r] = load_at_f32(card, ref, NATIVE[ref.format])
    return out


def reference_task(task: str, options: dict):
    """``task`` with every model fp32 on its native runtime: what each model's teacher is run inside."""
    return get_registry().task(task)(float_models(task, None, options), **options)


def task_with(task: str, role: str, model, options: dict, others: dict | None = None):
    """The task with model ``role`` replaced by ``model`` (a loaded model or a bare session), every other
    model fp32 on its native runtime (``others``, from :func:`float_models`, or loaded now), so a figure
    measured on it is that model's own."""
    from edgevid.models.loaded import LoadedModel

    cls = get_registry().task(task)
    card = cls.models[role]
    if not isinstance(model, LoadedModel):
        model = LoadedModel(card, card.reference, model, model.path)
    return cls({**(others if others is not None else float_models(task, role, options)), role: model}, **options)


def run_each(task, frames) -> list:
    """The task's result on each frame on its own: held-out frames are unrelated stills, and state carried
    between them (ROI tracking) would make a score depend on their order."""
    out = []
    for f in frames:
        task.reset()
        out.append(task.process(f))
    return out


def candidate(task: str, role: str, entry: dict, backend: str):
    """Load a manifest ``entry`` of model ``role`` on ``backend`` at f32."""
    from edgevid.models.card import Sidecar, StoreSource, Variant

    card = get_registry().task(task).models[role]
    v = Variant(entry["name"], entry["format"], entry["precision"], entry["sha256"], StoreSource(entry["path"]),
                sidecars=tuple(Sidecar(s["name"], s["sha256"], StoreSource(s["path"])) for s in entry.get("sidecars", [])))
    return load_at_f32(card, v, backend)


def score(task: str, role: str, entry: dict, backend: str, heldout, reference, options) -> float:
    t = task_with(task, role, candidate(task, role, entry, backend), options)
    try:
        return agreement(reference, run_each(t, heldout))
    finally:
        t.close()


def load_at_f32(card, variant, backend: str, options: dict | None = None):
    """``variant`` of model ``card`` loaded on ``backend`` (CPU) at f32, the precision every figure is taken at,
    with the backend's own ``options``."""
    return load_model(card, Choice(card, variant, backend, "CPU", precision="f32", options=dict(options or {})))


def file_variant(path: Path):
    """A store file not yet in a manifest (a conversion being verified), as a variant that can be loaded."""
    from edgevid.models.card import StoreSource, Variant

    return Variant("candidate", format_of(path), "fp32", store.sha256_of(path),
                   StoreSource(str(path.relative_to(store.home()))))


def stretched(card, frames, h: int, w: int):
    """BGR ``frames`` stretched to ``h x w`` in the colour order ``card`` takes, as one uint8 array (N, h, w, 3)."""
    import cv2
    import numpy as np

    out = np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in frames])
    return np.ascontiguousarray(out[..., ::-1]) if card.input.color == "RGB" else out


def stretched_feeds(card, model, frames) -> list[dict]:
    """``frames`` stretched to ``model``'s input as its card says (size, colour order, scale), one feed each."""
    from edgevid.vision.image import image_tensor, input_geometry

    h, w, nchw = input_geometry(model.session.inputs[0])
    return [{model.input_name: image_tensor(img, card.input, nchw)} for img in stretched(card, frames, h, w)]
