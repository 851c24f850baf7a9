"""``edgevid build TASK``: make a task's model variants, measure each against fp32, record them in the store.

Variants made here (names are the same across a task's models, so a task-level ``variant=`` works):

* ``fp16`` — OpenVINO IR with fp16-compressed weights (from ``.onnx`` or ``.tflite``);
* ``int8-ov`` — OpenVINO IR quantized by NNCF, with accuracy control when plain PTQ misses the floor;
* ``int8`` — ONNX Runtime static QDQ, per channel, calibrated on the task's own domain (``.onnx`` sources).

``int8-ov`` is written before ``int8`` in the manifest, so OpenVINO (which reads both) picks its IR and
ONNX Runtime (which reads only ONNX) the QDQ model.

Every candidate is measured with the task's metric on held-out frames (``edgevid.bench.accuracy``),
swapping in only that model so the figure is the model's own. An int8 model below the floor is
rebuilt keeping its most sensitive nodes in float (ranked by their own quantization error,
``ort_int8.sensitivity``), doubling how many until the floor holds; the manifest says which were kept.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

from edgevid.api import load, load_model
from edgevid.bench.accuracy import agreement, metric_name
from edgevid.errors import ConfigError
from edgevid.models import store
from edgevid.models.catalog import manifest_path
from edgevid.models.select import Choice
from edgevid.registry import get_registry
from edgevid.tasks.feeds import capture

from . import openvino_int8, openvino_ir, ort_int8
from .frames import frames

NATIVE = {"tflite": "tflite", "onnx": "onnxruntime"}
KNOWN = ("fp16", "int8")
#: Past this many float nodes an int8 model is mostly float: report it below the floor instead.
MAX_KEPT = 64


def _versions() -> dict[str, str]:
    out = {}
    for pkg in ("edgevid", "edgevid-quantize", "openvino", "onnxruntime", "onnx", "nncf"):
        try:
            out[pkg] = version(pkg)
        except Exception:  # noqa: BLE001 - a missing package is simply not recorded
            pass
    return out


def _entry(model_id: str, name: str, fmt: str, precision: str, compression: str, path: Path, recipe: dict,
           sidecar: Path | None = None) -> dict[str, Any]:
    home = store.home()
    e = {"name": name, "format": fmt, "precision": precision, "compression": compression,
         "path": str(path.relative_to(home)), "sha256": store.sha256_of(path), "size": path.stat().st_size,
         "recipe": {**recipe, "versions": _versions()}}
    if sidecar is not None:
        e["sidecars"] = [{"name": sidecar.name, "sha256": store.sha256_of(sidecar), "path": str(sidecar.relative_to(home))}]
        e["size"] += sidecar.stat().st_size
    return e


def float_models(task: str, role: str, options: dict) -> dict:
    """Every model of ``task`` but ``role`` (those ``options`` load), fp32 on its native runtime."""
    cls = get_registry().task(task)
    out = {}
    for r in cls.roles(**options):
        if r != role:
            card = cls.models[r]
            ref = card.reference
            out[r] = load_model(card, Choice(card, ref, NATIVE[ref.format], "CPU", precision="f32"))
    return out


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


def _candidate(task: str, role: str, entry: dict, backend: str):
    """Load a manifest ``entry`` of model ``role`` on ``backend`` at f32."""
    from edgevid.models.card import Sidecar, StoreSource, Variant

    card = get_registry().task(task).models[role]
    v = Variant(entry["name"], entry["format"], entry["precision"], entry["sha256"], StoreSource(entry["path"]),
                sidecars=tuple(Sidecar(s["name"], s["sha256"], StoreSource(s["path"])) for s in entry.get("sidecars", [])))
    return load_model(card, Choice(card, v, backend, "CPU", precision="f32"))


def _finds(result) -> bool:
    """Whether a task result holds anything (detections, texts, poses, a non-empty mask)."""
    return bool(result.area) if hasattr(result, "area") else bool(len(result))


def run_each(task, frames) -> list:
    """The task's result on each frame on its own: held-out frames are unrelated stills, and state carried
    between them (ROI tracking) would make a score depend on their order."""
    out = []
    for f in frames:
        task.reset()
        out.append(task.process(f))
    return out


def _score(task: str, role: str, entry: dict, backend: str, heldout, reference, options) -> float:
    t = task_with(task, role, _candidate(task, role, entry, backend), options)
    try:
        return agreement(reference, run_each(t, heldout))
    finally:
        t.close()


def build(task: str, variants: tuple[str, ...] = KNOWN, floor: float = 0.99, options: dict | None = None,
          models: tuple[str, ...] = (), calib: str | None = None,
          say: Callable[[str], None] = print) -> dict[str, list[dict]]:
    """Build ``variants`` of ``task``'s models (all, or those whose ids are in ``models``) into the store,
    calibrated on the task's built-in frames or on ``calib`` (a video file, image folder or glob);
    returns the manifest entries written, by model id."""
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
        reference = run_each(ref_task, heldout)
        calib_results: list = []
        feeds = capture(ref_task, calib_frames, results=calib_results)
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
    skipped: list[dict] = []
    for role, card in cls.models.items():
        if models and card.id not in models:
            continue
        if role not in feeds:
            say(f"  {card.id}: not used with these task options; skipped")
            continue
        src = store.fetch(card.reference)
        folder = store.home() / "built" / card.id
        entries = []
        unreadable = openvino_ir.unreadable(src) if {"fp16", "int8"} & set(variants) else None
        if unreadable:
            say(f"  {card.id}: no OpenVINO variants: {unreadable}")
            skipped.append({"model": card.id, "variants": ["fp16", "int8-ov"], "reason": unreadable})
        if "fp16" in variants and not unreadable:
            xml = openvino_ir.convert(src, folder / "fp16" / f"{src.stem}.xml", fp16=True)
            e = _entry(card.id, "fp16", "openvino", "fp16", "fp16-weights", xml,
                       {"tool": "openvino.convert_model + save_model(compress_to_fp16=True)", "source": card.reference.name},
                       xml.with_suffix(".bin"))
            e["accuracy"] = round(_score(task, role, e, "openvino", heldout, reference, options), 4)
            say(f"  {card.id} fp16 IR: {e['size'] / 2**20:.2f} MB, accuracy {e['accuracy']:.4f}")
            entries.append(e)
        if "int8" in variants and not unreadable:
            e = _int8_ov(task, role, card, src, folder, feeds[role], heldout, reference, floor, options, say, skipped)
            if e is not None:
                entries.append(e)
        if "int8" in variants and card.reference.format == "onnx":
            entries.append(_int8(task, role, card, src, folder, feeds[role], heldout, reference, floor, options, say))
        for e in entries:
            e["metric"] = metric_name(reference[0])
            if e["precision"] == "int8":
                e["recipe"]["calibration_source"] = calib or "built-in"
                e["recipe"]["calibration_frames_with_content"] = [with_content, len(calib_frames)]
        _write_manifest(card.id, entries, [k for k in skipped if k["model"] == card.id])
        written[card.id] = entries
    return written


def _int8_ov(task, role, card, src, folder, calibration, heldout, reference, floor, options, say,
             skipped: list[dict]) -> dict | None:
    """NNCF's int8 IR, measured; None (and a ``skipped`` note) when no int8 model can meet the floor."""
    xml = folder / "int8-ov" / f"{src.stem}.xml"
    try:
        recipe = openvino_int8.quantize(task, role, src, xml, calibration, heldout, reference, floor, options)
    except openvino_int8.NoInt8 as exc:
        say(f"  {card.id} int8 IR (NNCF): not written: {exc}")
        skipped.append({"model": card.id, "variants": ["int8-ov"], "reason": str(exc)})
        shutil.rmtree(xml.parent, ignore_errors=True)
        return None
    e = _entry(card.id, "int8-ov", "openvino", "int8", "quantized", xml, recipe, xml.with_suffix(".bin"))
    e["accuracy"] = round(_score(task, role, e, "openvino", heldout, reference, options), 4)
    e["below_floor"] = e["accuracy"] < floor
    steps = " then ".join(f"{a['method']} {a['accuracy']:.4f}" for a in recipe["accuracy_search"])
    say(f"  {card.id} int8 IR (NNCF): {e['size'] / 2**20:.2f} MB, accuracy {e['accuracy']:.4f} ({steps})")
    return e


def _int8(task, role, card, src, folder, calibration, heldout, reference, floor, options, say) -> dict:
    """Quantize and measure; below the floor, keep the most sensitive nodes in float until it holds.

    Keeping nodes in float is not monotonic (the QDQ placement around them changes too), so when the
    floor is never met the best attempt is the one kept.
    """
    out = folder / "int8" / src.name
    out.parent.mkdir(parents=True, exist_ok=True)
    best_copy = out.with_suffix(".best")
    kept: list[str] = []
    tried: list[dict] = []
    ranked: list[tuple[str, float]] = []
    best: dict | None = None
    while True:
        recipe = ort_int8.quantize(src, out, calibration, exclude=kept)
        e = _entry(card.id, "int8", "onnx", "int8", "quantized", out, recipe)
        e["accuracy"] = round(_score(task, role, e, "onnxruntime", heldout, reference, options), 4)
        tried.append({"kept_float": len(kept), "accuracy": e["accuracy"]})
        say(f"  {card.id} int8 ({len(kept)} nodes kept float): accuracy {e['accuracy']:.4f}")
        if e["accuracy"] >= floor:
            best = e
            break
        if best is None or e["accuracy"] > best["accuracy"]:
            best = e
            shutil.copyfile(out, best_copy)
        if not ranked:
            ranked = ort_int8.sensitivity(src, out, calibration)
            say(f"  {card.id} int8 below floor; most sensitive: "
                + ", ".join(f"{n} ({db:.1f} dB)" for n, db in ranked[:4]))
        if len(kept) >= min(len(ranked), MAX_KEPT):
            break
        kept = [n for n, _ in ranked[: max(4, 2 * len(kept))]]
    if best is not e:
        shutil.copyfile(best_copy, out)
        say(f"  {card.id} int8: floor not met; keeping the best attempt ({best['accuracy']:.4f})")
    best_copy.unlink(missing_ok=True)
    best["recipe"]["accuracy_search"] = tried
    kept_best = set(best["recipe"]["excluded_nodes"])
    if kept_best:
        best["recipe"]["kept_float_sqnr_db"] = {n: round(db, 1) for n, db in ranked if n in kept_best}
    best["below_floor"] = best["accuracy"] < floor
    return best


def _write_manifest(model_id: str, entries: list[dict], skipped: list[dict] = ()) -> Path:
    """Merge ``entries`` into the model's manifest (same-name variants are replaced); ``skipped`` says which
    variants could not be made and why."""
    path = manifest_path(model_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        data = {"model": model_id, "variants": []}
    # a variant rebuilt or now impossible replaces what an earlier build left
    names = {e["name"] for e in entries} | {n for k in skipped for n in k["variants"]}
    data["variants"] = [v for v in data.get("variants", []) if v["name"] not in names] + entries
    data["skipped"] = [{"variants": k["variants"], "reason": k["reason"]} for k in skipped]
    path.write_text(json.dumps(data, indent=1))
    return path
