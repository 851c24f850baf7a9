"""The bench document (JSON, versioned schema) and its table."""

from __future__ import annotations

import datetime as dt
from typing import Any

SCHEMA_VERSION = 1
#: keys every result row carries (documented in docs/bench.md)
ROW_KEYS = ("backend", "device", "variant", "precision", "compression", "size_mb", "runtime", "latency_ms",
            "warmup_runs", "samples_ms", "throughput", "load")
LATENCY_KEYS = ("n", "min", "p50", "p90", "p99", "max", "mean", "std", "cv", "ci95_low", "ci95_high", "noisy")


def document(kind: str, subject: str, source: str | None, host: dict, budget: dict, rows: list[dict],
             skipped: list[dict], recommendation: dict | None) -> dict[str, Any]:
    """The full JSON document of a bench run."""
    from .. import __version__

    return {"schema_version": SCHEMA_VERSION, "edgevid": __version__,
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "kind": kind, "subject": subject, "source": source, "host": host, "budget": budget,
            "results": rows, "skipped": skipped, "recommendation": recommendation}


def validate(doc: dict) -> None:
    """Raise ``ValueError`` naming the first missing or mistyped field of a bench document."""
    if doc.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"schema_version must be {SCHEMA_VERSION}, got {doc.get('schema_version')!r}")
    for key in ("edgevid", "created", "kind", "subject", "host", "budget", "results", "skipped"):
        if key not in doc:
            raise ValueError(f"missing top-level key {key!r}")
    if doc["kind"] not in ("task", "model"):
        raise ValueError(f"kind must be 'task' or 'model', got {doc['kind']!r}")
    for i, row in enumerate(doc["results"]):
        for key in ROW_KEYS:
            if key not in row:
                raise ValueError(f"results[{i}] is missing {key!r}")
        for key in LATENCY_KEYS:
            if key not in row["latency_ms"]:
                raise ValueError(f"results[{i}].latency_ms is missing {key!r}")
        if doc["kind"] == "task":
            for key in ("video", "accuracy"):
                if key not in row:
                    raise ValueError(f"results[{i}] is missing {key!r}")


def label(row: dict) -> str:
    """Short name of a configuration: backend/device/variant."""
    base = f"{row['backend']}/{row['device']}/{row['variant']}"
    return f"{base}@{row['precision']}" if row.get("precision_hint") else base


def table(doc: dict) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of the printed table."""
    task = doc["kind"] == "task"
    headers = ["backend", "device", "variant", "precision", "MB", "p50 ms", "p90 ms", "p99 ms", "cv",
               "fps" if not task else "video fps", "load s", "+RSS MB"]
    if task:
        headers += ["accuracy"]
    rows = []
    for r in doc["results"]:
        lat, load = r["latency_ms"], r.get("load", {})
        prec = f"{r['precision']}{' (pinned)' if r.get('precision_hint') else ''}/{r['compression']}"
        cells = [r["backend"], r["device"], r["variant"], prec, f"{r['size_mb']:.2f}",
                 f"{lat['p50']:.2f}", f"{lat['p90']:.2f}", f"{lat['p99']:.2f}",
                 f"{lat['cv']:.2f}{' noisy' if lat['noisy'] else ''}", f"{r['throughput'].get('fps', 0):.1f}",
                 f"{load['create_s'] + load['first_inference_s']:.2f}" if "create_s" in load else "?",
                 f"{load['rss_added_mb']:.0f}" if "rss_added_mb" in load else "?"]
        if task:
            acc = r["accuracy"]
            v = acc["vs_reference"]
            cells.append("n/a" if v is None else f"{v:.3f}{' BELOW FLOOR' if acc['below_floor'] else ''}")
        if r.get("reference"):
            cells[2] += " (ref)"
        rows.append(cells)
    return headers, rows
