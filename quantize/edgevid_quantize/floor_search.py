"""The accuracy floor search shared by ONNX Runtime's and LiteRT's int8: below the floor, keep the most
sensitive nodes float, more each attempt, and keep the best attempt when the floor is never met."""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from . import manifest

if TYPE_CHECKING:  # the job type lives with the build that makes it
    from .build import _Job


def floor_search(job: _Job, name: str, fmt: str, backend: str, out: Path,
                 make: Callable[[list[str]], dict], rank: Callable[[], list[tuple[str, float]]],
                 together: int = 0) -> dict:
    """Quantize (``make(kept)`` writes ``out``) and measure; below the floor, keep the most sensitive nodes
    (``rank()``, worst first) in float, doubling how many until the floor holds.

    The ranking's first ``together`` nodes help only together (``ort_int8.output_path``): they are tried
    alone first, as one step, and stay float through the doubling only if that scored better than none.
    Keeping nodes in float is not monotonic (the quantization around them changes too), so when the
    floor is never met the best attempt is the one kept.
    """
    card, say, floor = job.card, job.say, job.floor
    out.parent.mkdir(parents=True, exist_ok=True)
    best_copy = out.with_suffix(".best")
    kept: list[str] = []
    tried: list[dict] = []
    ranked: list[tuple[str, float]] = []
    best: dict | None = None
    group: list[str] = []
    base: list[str] | None = None  # what stays float under the doubling; None until the group is judged
    width = 0
    while True:
        recipe = make(kept)
        e = manifest.entry(card.id, name, fmt, "int8", "quantized", out, recipe)
        e["accuracy"] = job.score(e, backend)
        tried.append({"kept_float": len(kept), "accuracy": e["accuracy"]})
        say(f"  {card.id} {name} ({len(kept)} nodes kept float): accuracy {e['accuracy']:.4f}")
        if e["accuracy"] >= floor:
            best = e
            break
        if best is None or e["accuracy"] > best["accuracy"]:
            best = e
            shutil.copyfile(out, best_copy)
        if not ranked:
            ranked = rank()
            group = [n for n, _ in ranked[:min(together, job.max_kept)]]
            say(f"  {card.id} {name} below floor; most sensitive: "
                + ", ".join(f"{n} ({v:.1f})" for n, v in ranked[together:together + 4])
                + (f"; output path: {len(group)} nodes" if group else ""))
            if group:
                kept = group
                continue
        if base is None:
            base = group if group and e["accuracy"] > tried[0]["accuracy"] else []
        rest = [n for n, _ in ranked[together:]]
        room = min(len(rest), job.max_kept - len(base))
        if width >= room:
            break
        width = min(room, max(4, 2 * width))
        kept = base + rest[:width]
    if best is not e:
        shutil.copyfile(best_copy, out)
        say(f"  {card.id} {name}: floor not met; keeping the best attempt ({best['accuracy']:.4f})")
    best_copy.unlink(missing_ok=True)
    best["recipe"]["accuracy_search"] = tried
    kept_best = set(best["recipe"]["excluded_nodes"])
    if kept_best:
        # SQNR in dB; an unmeasured node (on the path to an unquantized output) is left out
        best["recipe"]["kept_float_sensitivity"] = {n: round(v, 2) for n, v in ranked
                                                    if n in kept_best and math.isfinite(v)}
    best["below_floor"] = best["accuracy"] < floor
    return best
