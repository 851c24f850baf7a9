"""The int8 variants made by NNCF and ONNX Runtime's quantizer: ``int8-ov`` (OpenVINO IR) and ``int8``
(ONNX QDQ for ONNX Runtime), each measured against fp32 and kept within the accuracy floor where it can be.

For ``int8``, ONNX Runtime's own quantizer and its floor search go first; below the floor, NNCF's accuracy
control on the same ONNX model; where NNCF's model wins, ONNX Runtime's quantizer once more, given NNCF's
activation ranges and bias corrections (:func:`onnxruntime`).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from . import manifest, nncf_int8, ort_int8
from .floor_search import floor_search
from .latency import latency_ratio
from .workers import in_fresh_process

if TYPE_CHECKING:
    from .build import _Job as Job


def nncf_variant(job: Job, name: str, backend: str, src: Path, out: Path, calibration: list[dict], **kw) -> dict:
    """NNCF's int8 of ``src`` for ``backend`` (:func:`.nncf_int8.quantize`), written to ``out`` and measured, as
    variant ``name``; raises :class:`.nncf_int8.NoInt8` when accuracy control reverts every quantizer."""
    recipe = nncf_int8.quantize(job.task, job.role, src, out, calibration, job.heldout, job.reference, job.floor,
                                job.options, backend=backend, **kw)
    fmt, sidecar = ("openvino", out.with_suffix(".bin")) if backend == "openvino" else ("onnx", None)
    e = manifest.entry(job.card.id, name, fmt, "int8", "quantized", out, recipe, sidecar)
    e["accuracy"] = job.score(e, backend)
    e["below_floor"] = e["accuracy"] < job.floor
    steps = " then ".join(f"{a['method']} {a['accuracy']:.4f}" for a in recipe["accuracy_search"])
    job.say(f"  {job.card.id} {name} (NNCF): {e['size'] / 2**20:.2f} MB, accuracy {e['accuracy']:.4f} ({steps})")
    return e


def openvino(job: Job, src: Path) -> dict | None:
    """NNCF's int8 IR, measured; None (and a ``skipped`` note) when no int8 model can meet the floor."""
    xml = job.folder / "int8-ov" / f"{src.stem}.xml"
    try:
        return nncf_variant(job, "int8-ov", "openvino", src, xml, job.calibration,
                            float_types=nncf_int8.float_types(job.card.id))
    except nncf_int8.NoInt8 as exc:
        job.skip(["int8-ov"], str(exc))
        shutil.rmtree(xml.parent, ignore_errors=True)
        return None


def onnxruntime(job: Job, src: Path) -> dict:
    """ONNX Runtime static QDQ int8 of ``src``, accuracy-aware:

    1. ONNX Runtime's quantizer and its floor search (:func:`.floor_search.floor_search`);
    2. below the floor, NNCF's accuracy control on the same ONNX model, validated on ONNX Runtime
       (:func:`_or_nncf`); the better of the two is kept;
    3. where NNCF's is kept, ONNX Runtime's quantizer and search again, given the activation ranges and
       bias corrections of NNCF's model (:func:`_or_placed`). NNCF leaves Adds, Pads and pools float
       between int8 convolutions, which ONNX Runtime then runs with conversions around them; ONNX
       Runtime's own placement fuses whole. That model ships if it scores as well and runs faster.

    Each helps a different model: the first alone meets the floor for BlazePose's detector (0.991, where
    NNCF's reads 0.949); the second lifts both BlazeFace models from 0.983 and 0.920 to 1.000 (plain int8) and
    0.990, and the segmenters and the pose landmark model from 0.927-0.949 to 0.990-0.991; the third keeps
    BlazeFace full's 0.990 at ONNX Runtime's faster placement (1.94x NNCF's on a Zen 5 EPYC)."""
    out = job.folder / "int8" / f"{src.stem}.onnx"
    e = _search(job, src, out)
    if e["below_floor"]:
        e = _or_nncf(job, src, out, e)
    if "ort_quantizer" in e["recipe"]:  # NNCF's model was kept
        e = _or_placed(job, src, out, e)
    # meeting the floor says nothing of speed: on small models the layout changes around int8 kernels can
    # cost more than they save, and the manifest says so (the device's own `edgevid bench` decides there)
    x = _input(job)
    e["recipe"]["latency"] = in_fresh_process(latency_ratio, src, out, x, 200, ("onnxruntime",))
    job.say(f"  {job.card.id} int8: {e['recipe']['latency']['onnxruntime']['speedup']:.2f}x fp32 on ONNX Runtime "
            f"(this host, 2 threads)")
    return e


def _input(job: Job):
    """An input the task really feeds the model, for timing it."""
    return next(iter((job.heldout_feeds or job.calibration)[0].values()))


def _search(job: Job, src: Path, out: Path, seed: dict | None = None) -> dict:
    """ONNX Runtime's quantizer (given ``seed``, see :func:`.ort_int8.quantize`) and its floor search, into ``out``."""
    return floor_search(job, "int8", "onnx", "onnxruntime", out,
                        lambda kept: ort_int8.quantize(src, out, job.calibration, exclude=kept, seed=seed),
                        lambda: ort_int8.sensitivity(src, out, job.calibration),
                        together=len(ort_int8.output_path(src)))


def _summary(e: dict) -> dict:
    """An attempt that did not ship, for the shipped recipe: its recipe and accuracy."""
    return {**{k: v for k, v in e["recipe"].items() if k not in ("versions", "built_on")}, "accuracy": e["accuracy"]}


def _or_placed(job: Job, src: Path, out: Path, e: dict) -> dict:
    """NNCF's int8 model ``e`` (at ``out``), or ONNX Runtime's quantizer and search seeded with its ranges and bias
    corrections, where that scores as well (or meets the floor) and runs faster on ONNX Runtime."""
    alt_out = out.with_name(f"{src.stem}.placed.onnx")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            pre, _ = ort_int8.prepare(src, Path(tmp))  # the float model NNCF was given: its bias initializers
            seed = ort_int8.seed_of(out, pre)
        job.say(f"  {job.card.id} int8: ONNX Runtime's placement with NNCF's ranges for {len(seed['ranges'])} "
                f"activations and its {len(seed['biases'])} corrected biases")
        alt = _search(job, src, alt_out, seed)
    except Exception as exc:  # an optional try that fails leaves NNCF's model, and says why
        for left in (alt_out, alt_out.with_suffix(".best")):
            left.unlink(missing_ok=True)
        e["recipe"]["placed"] = f"failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        job.say(f"  {job.card.id} int8: ONNX Runtime's placement {e['recipe']['placed']}")
        return e
    good = alt["accuracy"] >= min(e["accuracy"], job.floor)
    # the two int8 models timed against each other, interleaved, in one fresh process
    faster = None
    if good:
        faster = in_fresh_process(latency_ratio, out, alt_out, _input(job), 200, ("onnxruntime",))["onnxruntime"]
    if not good or faster["speedup"] <= 1.0:
        alt_out.unlink()
        e["recipe"]["placed"] = {"accuracy": alt["accuracy"], "accuracy_search": alt["recipe"]["accuracy_search"],
                                 "speedup_over_nncf": faster and faster["speedup"]}
        return e
    job.say(f"  {job.card.id} int8: ONNX Runtime's placement reads {alt['accuracy']:.4f} and runs "
            f"{faster['speedup']:.2f}x NNCF's model; it ships")
    shutil.move(alt_out, out)
    placed = manifest.entry(job.card.id, "int8", "onnx", "int8", "quantized", out,
                            {**alt["recipe"], "speedup_over_nncf": faster["speedup"], "nncf": _summary(e)})
    placed["accuracy"], placed["below_floor"] = alt["accuracy"], alt["below_floor"]
    return placed


def _or_nncf(job: Job, src: Path, out: Path, e: dict) -> dict:
    """ONNX Runtime's best int8 attempt ``e`` (below the floor), or NNCF's where that scores better."""
    alt_out = out.with_name(f"{src.stem}.nncf.onnx")
    with tempfile.TemporaryDirectory() as tmp:
        # the same model ONNX Runtime's quantizer was given: opset 13 for per-channel weights, and pre-processed,
        # which turns weights held in Constant nodes (PP-OCRv4 rec's) into initializers NNCF stores as int8
        pre, steps = ort_int8.prepare(src, Path(tmp))
        try:
            alt = nncf_variant(job, "int8", "onnxruntime", pre, alt_out, ort_int8.rekey(src, job.calibration),
                               float_types=(), seven_bit_weights=ort_int8.saturates())
        except Exception as exc:  # a fallback that fails leaves ONNX Runtime's model, and says why
            reason = str(exc) if isinstance(exc, nncf_int8.NoInt8) else f"NNCF failed: {type(exc).__name__}: {exc}"
            job.say(f"  {job.card.id} int8: no NNCF model ({reason.splitlines()[0] if reason else ''})")
            alt_out.unlink(missing_ok=True)
            e["recipe"]["nncf"] = reason
            return e
    if alt["accuracy"] <= e["accuracy"]:
        job.say(f"  {job.card.id} int8: NNCF's {alt['accuracy']:.4f} is no better; keeping ONNX Runtime's")
        alt_out.unlink()
        e["recipe"]["nncf"] = {"accuracy": alt["accuracy"], "accuracy_search": alt["recipe"]["accuracy_search"]}
        return e
    # ONNX Runtime's quantizer's recipe and search stay on record under NNCF's
    shutil.move(alt_out, out)
    e = manifest.entry(job.card.id, "int8", "onnx", "int8", "quantized", out,
                       {**alt["recipe"], **steps, "ort_quantizer": _summary(e)})
    e["accuracy"], e["below_floor"] = alt["accuracy"], alt["below_floor"]
    return e
