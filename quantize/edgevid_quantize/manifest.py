"""Build manifests: one entry per variant made, with its bytes' sha256 and the recipe that made them."""

from __future__ import annotations

import functools
import json
from importlib.metadata import version
from pathlib import Path
from typing import Any

from edgevid.models import store
from edgevid.models.catalog import manifest_path


def versions() -> dict[str, str]:
    """Versions of the tools a recipe depends on (those installed)."""
    out = {}
    for pkg in ("edgevid", "edgevid-quantize", "openvino", "onnxruntime", "onnx", "nncf", "tensorflow-cpu", "tf2onnx",
                "onnx2tf", "onnxsim", "ai-edge-litert", "torch", "onnx2torch", "torch-pruning"):
        try:
            out[pkg] = version(pkg)
        except Exception:  # noqa: BLE001 - a missing package is simply not recorded
            pass
    return out


@functools.cache
def built_on() -> dict[str, Any]:
    """The CPU a variant was built on: int8 bytes depend on VNNI (``ort_int8.saturates``), and the latencies a
    recipe records depend on the CPU's generation."""
    from edgevid.devices.probe import probe_cpu

    cpu = probe_cpu(Path("/"))
    return {"cpu": cpu.name, "family": cpu.family, "arch": cpu.arch, "isa": cpu.features}


def entry(model_id: str, name: str, fmt: str, precision: str, compression: str, path: Path, recipe: dict,
           sidecar: Path | None = None) -> dict[str, Any]:
    """A manifest entry for the built file ``path`` (and its ``sidecar``): format, precision, compression,
    size and sha256 of the real bytes, and the recipe with the tool versions."""
    home = store.home()
    e = {"name": name, "format": fmt, "precision": precision, "compression": compression,
         "path": str(path.relative_to(home)), "sha256": store.sha256_of(path), "size": path.stat().st_size,
         "recipe": {**recipe, "versions": versions(), "built_on": built_on()}}
    if sidecar is not None:
        e["sidecars"] = [{"name": sidecar.name, "sha256": store.sha256_of(sidecar), "path": str(sidecar.relative_to(home))}]
        e["size"] += sidecar.stat().st_size
    return e


def write(model_id: str, entries: list[dict], skipped: list[dict] = ()) -> Path:
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
