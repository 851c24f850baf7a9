"""``--compare BASELINE.json``: each figure's change against a baseline run, regressions beyond noise flagged."""

from __future__ import annotations

from .report import label

#: a change smaller than this fraction is never called a regression, whatever the CIs say
MIN_CHANGE = 0.05


def compare(doc: dict, baseline: dict) -> list[dict]:
    """Per configuration present in both: p50 and fps change, and whether latency regressed beyond noise.

    Latency regressed when the p50 grew by more than 5% *and* the two medians' 95% CIs do not overlap.
    """
    base = {label(r): r for r in baseline["results"]}
    out = []
    for r in doc["results"]:
        b = base.get(label(r))
        if b is None:
            continue
        cur, old = r["latency_ms"], b["latency_ms"]
        change = (cur["p50"] - old["p50"]) / old["p50"] if old["p50"] else 0.0
        separated = cur["ci95_low"] > old["ci95_high"] or cur["ci95_high"] < old["ci95_low"]
        fps_now, fps_old = r["throughput"].get("fps", 0.0), b["throughput"].get("fps", 0.0)
        acc_now = r.get("accuracy", {}).get("vs_reference")
        acc_old = b.get("accuracy", {}).get("vs_reference")
        out.append({
            "config": label(r), "p50_ms": cur["p50"], "baseline_p50_ms": old["p50"], "p50_change": round(change, 4),
            "fps_change": round((fps_now - fps_old) / fps_old, 4) if fps_old else None,
            "accuracy_change": round(acc_now - acc_old, 4) if acc_now is not None and acc_old is not None else None,
            "regression": bool(change > MIN_CHANGE and separated),
            "improvement": bool(change < -MIN_CHANGE and separated),
        })
    return out
