"""Recommendation: the fastest configuration at or above the accuracy floor, stored for selection to use."""

from __future__ import annotations

import json

from .report import label


def recommend(doc: dict, goal: str = "latency") -> dict | None:
    """The best row by p50 latency (``goal="latency"``) or FPS (``"throughput"``) among rows meeting the floor."""
    ok = [r for r in doc["results"] if not r.get("accuracy", {}).get("below_floor", False)]
    if not ok:
        return None
    if goal == "throughput":
        best = max(ok, key=lambda r: r["throughput"].get("fps", 0.0))
        figure = f"{best['throughput'].get('fps', 0.0):.1f} fps"
    else:
        best = min(ok, key=lambda r: r["latency_ms"]["p50"])
        figure = f"{best['latency_ms']['p50']:.2f} ms p50"
    return {"goal": goal, "config": label(best), "backend": best["backend"], "device": best["device"],
            "variant": best["variant"], "precision": best["precision"], "precision_hint": best.get("precision_hint"),
            "why": f"edgevid bench on this host: best {goal} ({figure}) at or above the accuracy floor"}


def store(rec: dict, model_ids: list[str]) -> None:
    """Record ``rec`` for each of the task's models, so ``device="auto"`` selection prefers it here."""
    from ..models.select import measured_file

    path = measured_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        data = {}
    for mid in model_ids:
        data[mid] = {k: rec.get(k) for k in ("backend", "device", "variant", "precision_hint", "why")}
    path.write_text(json.dumps(data, indent=2))
