"""The LiteRT variants: ``int8-tflite`` (full integer, accuracy-aware) and, for an ONNX-sourced model,
``fp32-tflite``, both from onnx2tf's TensorFlow form of the model's ONNX, verified against the source first."""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from . import manifest
from .floor_search import floor_search
from .scoring import NATIVE, file_variant, load_at_f32
from .workers import in_fresh_process

if TYPE_CHECKING:
    from .build import _Job as Job


def tflite(job: Job, onnx_src: Path, variants: tuple[str, ...]) -> list[dict]:
    """``int8-tflite`` (full integer, accuracy-aware) from onnx2tf's SavedModel of the model's ONNX form, and for
    an ONNX-sourced model ``fp32-tflite`` too; onnx2tf's conversion is verified against the source first."""
    from . import onnx_tflite, tflite_onnx

    from_tflite = job.card.reference.format == "tflite"  # MediaPipe: the fp32 TFLite is the source itself
    names = [n for n, k in (("fp32-tflite", "fp32"), ("int8-tflite", "int8"))
             if k in variants and not (from_tflite and k == "fp32")]
    if not names:
        return []
    missing = [m for m in ("onnx2tf", "onnxsim", "tensorflow") if importlib.util.find_spec(m) is None]
    if missing:
        job.skip(names, f"needs {', '.join(missing)}: make setup (requirements-onnx2tf.txt)")
        return []
    shape = onnx_tflite.static_shape(onnx_src, job.calibration)
    # a line reader's long lines go in as the task feeds them: windows, which calibrated on squeezed lines
    # instead reads 0.886 of fp32 full integer (PP-OCRv4 rec, against 0.972)
    lines = job.card.input.resize == "pad-right"
    work = job.folder / ".onnx2tf"
    entries: list[dict] = []
    try:
        conv = in_fresh_process(onnx_tflite.convert, onnx_src, work, shape, job.calib_frames)
        source = load_at_f32(job.card, job.card.reference, NATIVE[job.card.reference.format])
        converted = load_at_f32(job.card, file_variant(Path(conv["tflite"])), "tflite")
        try:
            def pairs(x):
                return [(onnx_tflite.source_form(s, shape), s) for s in onnx_tflite.nhwc(x, shape, lines)]

            verified = tflite_onnx.verify(source, converted, job.calibration + job.heldout_feeds, pairs=pairs)
        finally:
            source.close()
            converted.close()
        recipe = {"tool": "onnxsim (input fixed) + onnx2tf", "source": "fp32-onnx" if from_tflite else job.card.reference.name,
                  "input_shape": shape, "layout": "NHWC in and out", "seconds": conv["seconds"], "verified": verified}
        if "fp32-tflite" in names:
            fp32 = job.folder / "fp32-tflite" / f"{onnx_src.stem}.tflite"
            fp32.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(conv["tflite"], fp32)
            e = manifest.entry(job.card.id, "fp32-tflite", "tflite", "fp32", "none", fp32, recipe)
            e["accuracy"] = job.score(e, "tflite")
            job.say(f"  {job.card.id} fp32-tflite (onnx2tf, {shape}): {e['size'] / 2**20:.2f} MB, max error "
                    f"{verified['max_relative_error']:.1e} on {verified['feeds']} feeds, accuracy {e['accuracy']:.4f}")
            entries.append(e)
        if "int8-tflite" in names:
            samples = [s for f in job.calibration for s in onnx_tflite.nhwc(next(iter(f.values())), shape, lines)][:64]
            out = job.folder / "int8-tflite" / f"{onnx_src.stem}.tflite"
            make = _ranged(job, conv["saved_model"], out, samples, work)
            e = floor_search(job, "int8-tflite", "tflite", "tflite", out, make,
                              lambda: in_fresh_process(onnx_tflite.sensitivity, conv["saved_model"], samples))
            e["recipe"].update(source=f"onnx2tf SavedModel of {recipe['source']}", input_shape=shape,
                               calibration_samples=len(samples), onnx2tf_verified=verified)
            entries.append(e)
    except (tflite_onnx.ConversionError, RuntimeError, ValueError) as exc:
        job.skip(names, f"onnx2tf: {str(exc).splitlines()[0][:200]}")
        entries = []
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return entries


def _ranged(job: Job, saved_model: str, out: Path, samples: list, work: Path) -> Callable[[list[str]], dict]:
    """``make(kept)`` for the floor search: with nothing kept float, each activation range estimator in turn
    (:data:`.tflite_ranges.ESTIMATORS`) until one meets the floor, else the best; every later attempt keeps
    that one, its ranges measured once (in ``work``, beside the SavedModel). The recipe records each
    estimator's figure."""
    from . import onnx_tflite
    from .tflite_ranges import ESTIMATORS

    chosen: dict = {}

    def make(kept: list[str]) -> dict:
        if chosen:
            return {**in_fresh_process(onnx_tflite.quantize, saved_model, out, samples, kept, chosen["ranges"], work),
                    "range_trials": chosen["trials"]}
        trials, best, keep = [], None, out.with_suffix(".ranges")
        for ranges in ESTIMATORS:
            recipe = in_fresh_process(onnx_tflite.quantize, saved_model, out, samples, kept, ranges, work)
            accuracy = job.score(manifest.entry(job.card.id, "int8-tflite", "tflite", "int8", "quantized", out, recipe),
                                 "tflite")
            trials.append({"ranges": ranges, "accuracy": accuracy})
            job.say(f"  {job.card.id} int8-tflite, {ranges} ranges: accuracy {accuracy:.4f}")
            if best is None or accuracy > best[1]:
                best = (ranges, accuracy, recipe)
                shutil.copyfile(out, keep)
            if accuracy >= job.floor:
                break
        shutil.copyfile(keep, out)
        keep.unlink()
        chosen.update(ranges=best[0], trials=trials)
        return {**best[2], "range_trials": trials}

    return make
