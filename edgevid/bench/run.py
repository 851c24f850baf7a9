"""Benchmark a task (every backend, device and variant that can run it) or a bare model file."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..backends.base import LoadOptions, format_of
from ..models import store
from ..models.catalog import variants as catalog_variants
from ..registry import get_registry
from . import accuracy, loadtime, throughput
from .measure import Budget, time_calls

#: which backend runs a format natively, for the fp32 reference outputs
NATIVE = {"tflite": "tflite", "onnx": "onnxruntime", "openvino": "openvino"}
ACCURACY_FRAMES = 20


@dataclass(frozen=True)
class Selection:
    """What to benchmark: backends, devices and variants (``None`` = all that can run)."""

    backends: tuple[str, ...] | None = None
    devices: tuple[str, ...] | None = None
    variants: tuple[str, ...] | None = None
    threads: int | None = None


def _wanted(value: str, chosen: tuple[str, ...] | None) -> bool:
    return chosen is None or "all" in chosen or value in chosen


def backend_devices(sel: Selection) -> list[tuple[str, str]]:
    """(backend, device) pairs to try: every available backend's devices (AUTO only when asked for)."""
    reg = get_registry()
    out = []
    for name, cls in sorted(reg.available_backends().items()):
        if not _wanted(name, sel.backends):
            continue
        for dev in cls.devices():
            if (dev == "AUTO" and not (sel.devices and "AUTO" in sel.devices)) or not _wanted(dev, sel.devices):
                continue
            out.append((name, dev))
    return out


def _size_mb(paths: list[Path]) -> float:
    """Bytes a model costs on disk, in MB: an OpenVINO IR counts its weights (``.bin``) too."""
    files = [*paths, *(p.with_suffix(".bin") for p in paths if p.suffix == ".xml" and p.with_suffix(".bin").is_file())]
    return round(sum(f.stat().st_size for f in files) / 2**20, 3)


def bench_model(path: Path, sel: Selection, budget: Budget, progress: Callable[[str], None]) -> list[dict]:
    """Latency, throughput, load time and memory of one model file on every backend/device that reads it."""
    fmt = format_of(path)
    store.open_user_model(path)  # safety checks: pickles refused, external data confined
    reg = get_registry()
    rows, ref_out = [], None
    pairs = [(b, d) for b, d in backend_devices(sel) if reg.backend(b).reads(fmt)]
    native = NATIVE[fmt]
    pairs.sort(key=lambda p: p[0] != native)  # the native runtime first: it is the reference
    for backend, device, hint in [(b, d, h) for b, d in pairs for h in reg.backend(b).precisions(d)]:
        progress(f"{path.name} on {backend} {device} {hint or ''}")
        cls = reg.backend(backend)
        opts = LoadOptions(device=device, threads=sel.threads, precision=hint)
        session = cls.load(path, opts)
        from .inputs import feeds_for

        feeds = feeds_for(session)
        timing = time_calls(lambda: session.run(feeds), budget)
        out = session.run(feeds)
        row = _config_row(backend, device, "file", session.precision, "none", _size_mb([path]), session.info())
        row["precision_hint"] = hint
        row["latency_ms"] = timing.summary.as_dict()
        row["warmup_runs"] = timing.warmup_runs
        row["samples_ms"] = [round(x, 4) for x in timing.samples_ms]
        if ref_out is None:
            ref_out, row["reference"] = out, True
        row["max_rel_diff_vs_reference"] = _rel_diff(out, ref_out)
        session.close()
        row["throughput"] = _throughput(cls, path, device, feeds, sel, budget, hint)
        row["load"] = loadtime.measure(backend, device, str(path), sel.threads, hint)
        rows.append(row)
    return rows


def _rel_diff(out: dict, ref: dict) -> float | None:
    """Largest output difference from the reference, relative to that output's largest magnitude."""
    if set(out) != set(ref):
        return None
    worst = 0.0
    for k, r in ref.items():
        r64, o64 = np.asarray(r, np.float64), np.asarray(out[k], np.float64)
        if r64.shape != o64.shape:
            return None
        worst = max(worst, float(np.abs(o64 - r64).max() / max(np.abs(r64).max(), 1e-12)))
    return round(worst, 6)


def _throughput(cls, path: Path, device: str, feeds: dict, sel: Selection, budget: Budget, hint=None) -> dict:
    seconds = min(3.0, max(1.0, budget.min_seconds))
    if cls.name == "openvino":
        return throughput.openvino_fps(path, device, feeds, seconds, hint)
    cores = os.cpu_count() or 1
    return throughput.threaded_fps(lambda: cls.load(path, LoadOptions(device=device, threads=1)), feeds, seconds,
                                   streams=max(1, min(cores, 4)))


def _config_row(backend, device, variant, precision, compression, size_mb, info) -> dict[str, Any]:
    return {"backend": backend, "device": device, "variant": variant, "precision": precision,
            "compression": compression, "size_mb": size_mb, "runtime": info}


def task_configs(task: str, sel: Selection, options: dict | None = None
                 ) -> tuple[list[tuple[str, str, str, str | None]], list[dict]]:
    """(backend, device, variant, precision hint) configurations that can run every model ``task`` loads
    with ``options``, and the skipped ones. A model-free task has one configuration: ("none", "CPU", "none", None)."""
    reg = get_registry()
    cls = reg.task(task)
    if not cls.models:
        return [("none", "CPU", "none", None)], []
    # only the models these options load: an unused one (text's direction classifier) must not veto a variant
    cards = [catalog_variants(cls.models[role]) for role in cls.roles(**(options or {}))]
    names = sorted({v.name for c in cards for v in c.variants}, key=lambda n: (n != "fp32", n))
    configs, skipped = [], []
    for (backend, device), name in itertools.product(backend_devices(sel), names):
        if not _wanted(name, sel.variants):
            continue
        bcls = reg.backend(backend)
        missing = [c.id for c in cards if not any(v.name == name for v in c.variants)]
        unreadable = [c.id for c in cards for v in c.variants
                      if v.name == name and (not bcls.reads(v.format) or v.incompatible_reason(backend))]
        if missing or unreadable:
            why = f"no {name} variant of {', '.join(missing)}" if missing else f"{backend} cannot read {', '.join(unreadable)}"
            skipped.append({"backend": backend, "device": device, "variant": name, "reason": why})
            continue
        configs += [(backend, device, name, hint) for hint in bcls.precisions(device)]
    return configs, skipped


def bench_task(task: str, frames: list[np.ndarray], source: Path, sel: Selection, budget: Budget,
               floor: float, progress: Callable[[str], None], options: dict | None = None) -> tuple[list[dict], list[dict]]:
    """Every runnable configuration of ``task``: per-frame latency, video FPS by stage, load, memory, accuracy."""
    from ..api import load
    from ..pipeline.runner import Pipeline
    from ..pipeline.sources import open_source

    options = options or {}
    configs, skipped = task_configs(task, sel, options)
    acc_frames = frames[:ACCURACY_FRAMES]
    reference = _reference_results(task, acc_frames, options, progress)
    rows = []
    for backend, device, variant, hint in configs:
        progress(f"{task} on {backend} {device} {variant} {hint or ''}")
        if backend == "none":
            t = load(task, **options)
        else:
            t = load(task, backend=backend, device=device, variant=variant, threads=sel.threads, precision=hint,
                     **options)
        try:
            cycle = itertools.cycle(frames)
            timing = time_calls(lambda: t.process(next(cycle)), budget)
            t.reset()
            results = [t.process(f) for f in acc_frames]
            t.reset()
            pipe = Pipeline(t, [open_source(str(source))])
            stats = pipe.run()
            per_frame = {k: round(v / max(1, stats.frames) * 1000, 3) for k, v in stats.stages.seconds.items()}
            info = t.info()
            paths = [m.path for m in t.loaded.values()]
            precisions = sorted({m.session.precision for m in t.loaded.values()})
            compression = sorted({m.variant.compression for m in t.loaded.values()})
            row = _config_row(backend, device, variant, "+".join(precisions) or "n/a", "+".join(compression) or "none",
                              _size_mb(paths), info)
            row["precision_hint"] = hint
            row["latency_ms"] = timing.summary.as_dict()
            row["warmup_runs"] = timing.warmup_runs
            row["samples_ms"] = [round(x, 4) for x in timing.samples_ms]
            row["video"] = {"fps": round(stats.fps, 2), "frames": stats.frames, "stage_ms_per_frame": per_frame,
                            "pipelined": True}
            score = accuracy.agreement(reference, results) if reference else float("nan")
            row["accuracy"] = {"metric": accuracy.metric_name(reference[0]) if reference else "n/a",
                               "vs_reference": None if np.isnan(score) else round(score, 4), "floor": floor,
                               "below_floor": bool(not np.isnan(score) and score < floor)}
            row["load"] = _task_load(t, sel, frames[0]) if t.loaded else {"create_s": 0.0, "first_inference_s": 0.0,
                                                                             "rss_added_mb": 0.0, "peak_rss_mb": 0.0}
            row["throughput"] = {"fps": row["video"]["fps"], "mode": "video pipeline (decode/pre/infer/post threads)"}
            rows.append(row)
        finally:
            t.close()
    return rows, skipped


def _reference_results(task: str, frames: list[np.ndarray], options: dict, progress) -> list:
    """The fp32 reference variants on each format's native runtime, forced to f32 execution."""
    from ..api import load

    reg = get_registry()
    cards = [catalog_variants(c) for c in reg.task(task).models.values()]
    if not cards:  # model-free task: deterministic, its own reference
        t = load(task, **options)
        try:
            return [t.process(f) for f in frames]
        finally:
            t.close()
    refs = {c.reference.name for c in cards}
    fmts = {c.reference.format for c in cards}
    backend = NATIVE[fmts.pop()] if len(fmts) == 1 else "openvino"
    if not reg.backend(backend).available():
        return []
    progress(f"{task} reference ({backend}, f32)")
    t = load(task, backend=backend, variant=refs.pop() if len(refs) == 1 else None, precision="f32", **options)
    try:
        return [t.process(f) for f in frames]
    finally:
        t.close()


def _recorded_feeds(task, frame: np.ndarray, folder: Path) -> dict[str, str]:
    """The first input each model really got for ``frame``, saved as .npz (role -> path)."""
    from ..tasks.feeds import capture

    saved = {}
    for role, feeds in capture(task, [frame], limit=1).items():
        if feeds:
            saved[role] = str(folder / f"{role}.npz")
            np.savez(saved[role], **feeds[0])
    return saved


def _task_load(task, sel: Selection, frame: np.ndarray) -> dict:
    """Load figures summed over the task's models, each measured in a fresh process on its real input."""
    import tempfile

    total: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        feeds = _recorded_feeds(task, frame, Path(tmp))
        for role, m in task.loaded.items():
            r = loadtime.measure(m.session.backend, m.session.device, str(m.path), sel.threads, None,
                                 feeds.get(role))
            total = _add_load(total, r)
            if "error" in r:
                return r
    return total


def _add_load(total: dict, r: dict) -> dict:
    for k, v in r.items():
        if isinstance(v, str):
            total[k] = v
        else:
            total[k] = round(total.get(k, 0.0) + v, 4) if k != "peak_rss_mb" else max(total.get(k, 0.0), v)
    return total
