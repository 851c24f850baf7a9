"""The accuracy floor search shared by ONNX Runtime's and LiteRT's int8: below the floor, keep the most
sensitive nodes float, one at a time and then more each attempt, and keep the best attempt when the floor
is never met."""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from . import manifest

if TYPE_CHECKING:  # the job type lives with the build that makes it
    from .build import _Job

#: How many of the most sensitive nodes are each tried float alone, before more are kept together. One
#: float node costs the least speed, and keeping more is not monotonic: on an AVX2-only EPYC, BlazePose's
#: detector read 0.9899 as plain int8 (ONNX Runtime, 7-bit weights), 0.9381 with its 4 worst Relu6
#: unfolded and at most 0.9874 with more, but 0.9949 with the 4th alone (1.22-1.33x fp32, where NNCF's
#: model, which shipped instead, ran 0.72x).
SINGLES = 4


def floor_search(job: _Job, name: str, fmt: str, backend: str, out: Path,
                 make: Callable[[list[str]], dict], rank: Callable[[], list[tuple[str, float]]],
                 together: int = 0) -> dict:
    """Quantize (``make(kept)`` writes ``out``) and measure; below the floor, keep the most sensitive nodes
    (``rank()``, worst first) in float: each of the first :data:`SINGLES` alone, then 4, 8, 16 and on,
    doubling until the floor holds.

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
    singles: list[str] | None = None  # nodes still to be tried float alone; None until base is known
    width = 0
    alone = ""
    while True:
        recipe = make(kept)
        e = manifest.entry(card.id, name, fmt, "int8", "quantized", out, recipe)
        e["accuracy"] = job.score(e, backend)
        tried.append({"kept_float": len(kept), "accuracy": e["accuracy"]})
        if alone:
            tried[-1]["alone"] = alone
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
        if singles is None:
            singles = rest[:min(SINGLES, room)]
            if singles:
                say(f"  {card.id} {name}: the {len(singles)} most sensitive, each float alone")
        if singles:
            alone = singles.pop(0)
            kept = base + [alone]
            continue
        alone = ""
        width = max(width, 1)  # one at a time was tried above
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
