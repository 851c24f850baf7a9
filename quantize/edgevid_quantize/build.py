"""``edgevid build TASK``: make a task's model variants, measure each against fp32, record them in the store.

Variants made here (names are the same across a task's models, so a task-level ``variant=`` works):

* ``fp32-onnx`` — a ``.tflite`` source converted by tf2onnx and verified against it (:mod:`.tflite_onnx`);
* ``fp32-ir``, ``fp16`` — OpenVINO IR, fp16 with compressed weights (from the source, or ``fp32-onnx``
  where OpenVINO cannot read the source);
* ``int8-ov`` — OpenVINO IR quantized by NNCF, with accuracy control when plain PTQ misses the floor;
* ``int8`` — ONNX Runtime static QDQ, per channel, calibrated on the task's own domain (ONNX source or
  conversion); both int8 variants are made in :mod:`.int8_variants`;
* ``fp32-tflite``, ``int8-tflite`` — LiteRT models from onnx2tf's conversion (:mod:`.tflite_variants`);
* ``pruned``, ``distilled`` — trained with the fp32 model as teacher (:mod:`.train`), where a recipe exists.

``int8-ov`` is written before ``int8`` in the manifest, so OpenVINO (which reads both) picks its IR and
ONNX Runtime (which reads only ONNX) the QDQ model.

Every candidate is measured with the task's metric on the held-out frames the task routes to that model
(:mod:`.scoring`), swapping in only that model so the figure is the model's own. An int8 model below the
floor is rebuilt keeping its most sensitive nodes in float (for ONNX Runtime, its output path first, then
nodes ranked by their own quantization error, ``ort_int8.sensitivity``), doubling how many until the floor
holds; the manifest says which were kept. Where ONNX Runtime's quantizer never meets the floor, NNCF's
accuracy control makes its int8 model too, and where NNCF's wins, ONNX Runtime's quantizer tries once more
with NNCF's ranges and bias corrections (:func:`.int8_variants.onnxruntime`).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgevid.api import load
from edgevid.bench.accuracy import metric_name
from edgevid.errors import ConfigError
from edgevid.models import store
from edgevid.registry import get_registry
from edgevid.tasks.feeds import capture

from . import int8_variants, manifest, openvino_ir, tflite_variants
from .frames import frames
from .scoring import NATIVE, file_variant, load_at_f32, score, stretched_feeds

#: variant kinds ``--variants`` takes (each may write several variants; see the module docstring)
KNOWN = ("fp32", "fp16", "int8", "pruned", "distilled")
#: Past this many float nodes an int8 model is mostly float: report it below the floor instead.
MAX_KEPT = 64
#: A model whose task fed it fewer calibration inputs than this is also calibrated on stretched frames.
MIN_CALIB_FEEDS = 8


def _finds(result) -> bool:
    """Whether a task result holds anything (detections, texts, poses, a non-empty mask); a classification
    (a text line's orientation) always does."""
    if hasattr(result, "area"):
        return bool(result.area)
    return bool(len(result)) if hasattr(result, "__len__") else True


def build(task: str, variants: tuple[str, ...] = KNOWN, floor: float = 0.99, options: dict | None = None,
          models: tuple[str, ...] = (), calib: str | None = None,
          say: Callable[[str], None] = print, max_kept: int = MAX_KEPT) -> dict[str, list[dict]]:
    """Build ``variants`` of ``task``'s models (all, or those whose ids are in ``models``) into the store,
    calibrated on the task's built-in frames or on ``calib`` (a video file, image folder or glob);
    returns the manifest entries written, by model id. An int8 model below the floor keeps at most
    ``max_kept`` nodes float (a smaller budget, fewer rounds)."""
    options = options or {}
    unknown = set(variants) - set(KNOWN)
    if unknown:
        raise ConfigError(f"edgevid build: unknown variant(s) {sorted(unknown)} (known: {', '.join(KNOWN)})")
    if "int8" in variants and importlib.util.find_spec("nncf") is None:
        raise ConfigError("edgevid build int8 needs NNCF: pip install 'edgevid-quantize[openvino]'")
    cls = get_registry().task(task)
    if not cls.models:
        raise ConfigError(f"task {task!r} has no model to build")
    ids = {c.id for c in cls.models.values()}
    if set(models) - ids:
        raise ConfigError(f"edgevid build: task {task!r} has no model {sorted(set(models) - ids)} "
                          f"(its models: {', '.join(sorted(ids))})")
    calib_frames, heldout = frames(task, calib)
    fmts = {c.reference.format for c in cls.models.values()}
    ref_backend = NATIVE[fmts.pop()] if len(fmts) == 1 else "openvino"
    refs = {c.reference.name for c in cls.models.values()}
    # the reference is pinned: selection would otherwise pick an already built variant that meets the floor
    ref_task = load(task, backend=ref_backend, precision="f32", variant=refs.pop() if len(refs) == 1 else None,
                    **options)
    try:
        calib_results: list = []
        feeds = capture(ref_task, calib_frames, results=calib_results)
        # One pass over the held-out frames, each from a reset task: the fp32 results, which frames reach
        # each model (a routing task sends wide frames to one model, the rest to another; a model is scored
        # on its own only, or frames it never sees would agree trivially), and what each model receives
        # there (a conversion is verified on these too).
        reference: list = []
        reaches: dict[str, list[int]] = {role: [] for role in ref_task.loaded}
        heldout_feeds: dict[str, list[dict]] = {role: [] for role in ref_task.loaded}
        for i, frame in enumerate(heldout):
            for role, got in capture(ref_task, [frame], results=reference).items():
                if got:
                    reaches[role].append(i)
                    heldout_feeds[role] += got[:max(0, 8 - len(heldout_feeds[role]))]
        with_content = sum(_finds(r) for r in calib_results)
    finally:
        ref_task.close()
    if with_content == 0:
        # a text detector calibrated on frames without text quantizes to noise (0.78 mean relative error)
        raise ConfigError(f"edgevid build: fp32 {task} finds nothing in any of the {len(calib_frames)} calibration "
                          f"frames ({calib or 'built-in'}); calibrate on frames of what the task looks for")
    say(f"{task}: {len(calib_frames)} calibration frames ({calib or 'built-in'}; {with_content} with content) and "
        f"{len(heldout)} held-out frames; metric {metric_name(reference[0])}")
    written: dict[str, list[dict]] = {}
    for role, card in cls.models.items():
        if models and card.id not in models:
            continue
        if role not in feeds:
            say(f"  {card.id}: not used with these task options; skipped")
            continue
        skipped: list[dict] = []
        calibration = feeds[role]
        if len(calibration) < MIN_CALIB_FEEDS:
            # the task routed few calibration frames to this model (the landscape segmenter takes wide
            # frames only): it is calibrated on the frames stretched to its input as well
            ref = load_at_f32(card, card.reference, NATIVE[card.reference.format])
            try:
                if None not in ref.session.inputs[0].shape:  # a dynamic input takes frames as the task sizes them
                    calibration = calibration + stretched_feeds(card, ref, calib_frames)
            finally:
                ref.close()
        own = reaches.get(role, [])
        if not own:
            raise ConfigError(f"edgevid build: no held-out frame of {task!r} reaches model {card.id}; "
                              "it cannot be measured")
        job = _Job(task, role, card, calibration, [heldout[i] for i in own], heldout_feeds.get(role, []),
                   [reference[i] for i in own], floor, options, say, skipped, calib, calib_frames, max_kept)
        say(f"  {card.id}: scored on the {len(own)} held-out frames that reach it")
        entries = _build_model(job, variants)
        for e in entries:
            e["metric"] = metric_name(reference[0])
            if e["precision"] == "int8":
                e["recipe"]["calibration_source"] = calib or "built-in"
                e["recipe"]["calibration_frames_with_content"] = [with_content, len(calib_frames)]
        manifest.write(card.id, entries, skipped)
        written[card.id] = entries
    return written


@dataclass
class _Job:
    """One model's build: what it is measured on and where notes go."""

    task: str
    role: str
    card: Any
    calibration: list[dict]
    heldout: list
    heldout_feeds: list[dict]
    reference: list
    floor: float
    options: dict
    say: Callable[[str], None]
    skipped: list[dict]
    calib: str | None = None
    calib_frames: list = ()
    max_kept: int = MAX_KEPT

    @property
    def folder(self) -> Path:
        return store.home() / "built" / self.card.id

    def skip(self, names: list[str], reason: str) -> None:
        self.say(f"  {self.card.id}: no {', '.join(names)}: {reason}")
        self.skipped.append({"model": self.card.id, "variants": names, "reason": reason})

    def score(self, entry: dict, backend: str) -> float:
        return round(score(self.task, self.role, entry, backend, self.heldout, self.reference, self.options), 4)


def _build_model(job: _Job, variants: tuple[str, ...]) -> list[dict]:
    """Every requested variant of one model; what cannot be made goes to ``job.skipped`` with its reason."""
    card = job.card
    src = store.fetch(card.reference)
    entries: list[dict] = []
    onnx_src = src if card.reference.format == "onnx" else None
    unreadable = openvino_ir.unreadable(src)
    if card.reference.format == "tflite" and ({"fp32", "int8", "pruned", "distilled"} & set(variants) or unreadable):
        e = _fp32_onnx(job, src)
        if e is not None:
            entries.append(e)
            onnx_src = store.home() / e["path"]
    # OpenVINO reads .tflite, but not MediaPipe's custom op: then it gets the verified ONNX conversion
    ov_src = onnx_src if unreadable else src
    if ov_src is None and {"fp32", "fp16", "int8"} & set(variants):
        job.skip(["fp32-ir", "fp16", "int8-ov"], unreadable)
    if ov_src is not None:
        for name, fp16 in (("fp32-ir", False), ("fp16", True)):
            if name.split("-")[0] not in variants:
                continue
            xml = openvino_ir.convert(ov_src, job.folder / name / f"{src.stem}.xml", fp16=fp16)
            e = manifest.entry(card.id, name, "openvino", "fp16" if fp16 else "fp32", "fp16-weights" if fp16 else "none", xml,
                       {"tool": f"openvino.convert_model + save_model(compress_to_fp16={fp16})",
                        "source": "fp32-onnx" if unreadable else card.reference.name},
                       xml.with_suffix(".bin"))
            e["accuracy"] = job.score(e, "openvino")
            job.say(f"  {card.id} {name} IR: {e['size'] / 2**20:.2f} MB, accuracy {e['accuracy']:.4f}")
            entries.append(e)
        if "int8" in variants:
            e = int8_variants.openvino(job, ov_src)
            if e is not None:
                entries.append(e)
    if "int8" in variants and onnx_src is not None:
        entries.append(int8_variants.onnxruntime(job, onnx_src))
    if onnx_src is not None and {"fp32", "int8"} & set(variants):
        # TFLite targets run .tflite only, and TFLite's integer path needs a TF graph: onnx2tf makes one
        entries += tflite_variants.tflite(job, onnx_src, variants)
    for kind in ("pruned", "distilled"):
        if kind in variants:
            entries += _trained(job, kind, onnx_src)
    return entries


def _fp32_onnx(job: _Job, src: Path) -> dict | None:
    """The TFLite source converted to ONNX (tf2onnx) and verified against it; None (and a note) if impossible."""
    from . import tflite_onnx

    if importlib.util.find_spec("tf2onnx") is None:
        job.skip(["fp32-onnx"], "tf2onnx is not installed: pip install 'edgevid-quantize[convert]'")
        return None
    out = job.folder / "fp32-onnx" / f"{src.stem}.onnx"
    try:
        recipe = tflite_onnx.convert(src, out)
        source = load_at_f32(job.card, job.card.reference, "tflite")
        converted = load_at_f32(job.card, file_variant(out), "onnxruntime")
        try:
            recipe["verified"] = tflite_onnx.verify(source, converted, _verification_feeds(job, source),
                                                   referee=lambda: tflite_onnx.on_reference_kernels(source))
        finally:
            source.close()
            converted.close()
    except tflite_onnx.ConversionError as exc:
        out.unlink(missing_ok=True)
        job.skip(["fp32-onnx"], str(exc))
        return None
    recipe["source"] = job.card.reference.name
    e = manifest.entry(job.card.id, "fp32-onnx", "onnx", "fp32", "none", out, recipe)
    e["accuracy"] = job.score(e, "onnxruntime")
    v = recipe["verified"]
    job.say(f"  {job.card.id} fp32-onnx (tf2onnx): {e['size'] / 2**20:.2f} MB, max error {v['max_relative_error']:.1e} "
            f"on {v['feeds']} feeds, accuracy {e['accuracy']:.4f}")
    return e


def _verification_feeds(job: _Job, model) -> list[dict]:
    """What the model really received (calibration and held-out), plus every held-out frame stretched to its
    input: a model that sees few frames (the landscape segmenter, the pose landmarker's crops) is still
    compared on many."""
    static = None not in model.session.inputs[0].shape
    return job.calibration + job.heldout_feeds + (stretched_feeds(job.card, model, job.heldout) if static else [])


def _trained(job: _Job, kind: str, onnx_src: Path | None) -> list[dict]:
    """The ``pruned`` or ``distilled`` variant of one model (``train``), or a note saying why there is none."""
    from . import recipes, train

    reason = recipes.unavailable(job.card.id, kind, onnx_src)
    if reason:
        job.skip([kind], reason)
        return []
    return [train.build(job, kind, onnx_src)]


