"""edgevid bench's median latency next to the vendors' own tools, same model, same threads, same run.

    python benchmarks/vendor_agreement.py [--threads 2] [--seconds 10] [--json out.json]

* OpenVINO: ``benchmark_app -hint none -nstreams 1 -nireq 1 -api sync -nthreads T`` (the latency hint's settings) (its "Median" line) vs ``edgevid bench --model M
  --backend openvino --threads T``.
* LiteRT: ``litert-benchmark --num_threads T`` (``median_ms`` of its JSON) vs ``edgevid bench --model M
  --backend tflite --threads T``.

The goal is a ratio within 1 ± 0.10. Runs alternate tool and edgevid per model so drift on a shared
machine hits both alike. Models come from the pinned wheels (``edgevid.testing.models``).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from edgevid.testing.models import real_model_path

MODELS = {  # key -> (backends to compare on, shape for dynamic inputs: edgevid uses 640 for dynamic H and W)
    "blazeface_short": (("openvino", "tflite"), None),
    "pose_detection": (("openvino", "tflite"), None),
    "ppocr_det": (("openvino",), "x[1,3,640,640]"),  # -data_shape keeps the model dynamic, as edgevid does
}


def _bin(name: str) -> str:
    found = shutil.which(name) or str(Path(sys.executable).parent / name)
    if not Path(found).exists():
        raise SystemExit(f"{name} not found next to {sys.executable}; install the runtimes (make setup)")
    return found


def edgevid_median(path: Path, backend: str, threads: int, seconds: float) -> tuple[float, str]:
    """edgevid bench's p50 (ms) and the precision it ran, via the real CLI."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "b.json"
        subprocess.run([sys.executable, "-m", "edgevid", "bench", "--model", str(path), "--backend", backend,
                        "--device", "CPU", "--threads", str(threads), "--duration", str(seconds), "--json", str(out)],
                       check=True, capture_output=True, text=True)
        row = json.loads(out.read_text())["results"][0]
    return row["latency_ms"]["p50"], row["precision"]


def benchmark_app_median(path: Path, threads: int, seconds: float, shape: str | None = None) -> float:
    """OpenVINO benchmark_app's median latency (ms) on CPU with one stream and one request: what the latency
    hint chooses, spelled out because benchmark_app refuses ``-nthreads`` together with a hint."""
    proc = subprocess.run([_bin("benchmark_app"), "-m", str(path), "-d", "CPU", "-hint", "none", "-nstreams", "1",
                           "-nireq", "1", "-api", "sync", "-nthreads", str(threads), "-t", str(int(seconds))]
                          + (["-data_shape", shape] if shape else []), capture_output=True, text=True, check=True)
    m = re.search(r"Median:\s+([\d.]+) (ms|us)", proc.stdout)
    if not m:
        raise RuntimeError("benchmark_app printed no median:\n" + proc.stdout[-2000:])
    return float(m.group(1)) / (1000.0 if m.group(2) == "us" else 1.0)


def litert_median(path: Path, threads: int, seconds: float, shape: str | None = None) -> float:
    """LiteRT litert-benchmark's median latency (ms) on CPU (XNNPACK)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "l.json"
        # litert-benchmark counts runs, not seconds: size the count from a short probe
        subprocess.run([_bin("litert-benchmark"), "--model", str(path), "--num_threads", str(threads),
                        "--num_runs", "20", "--warmup_runs", "5", "--result_json", str(out)],
                       capture_output=True, text=True, check=True)
        per_run = json.loads(out.read_text())["latency"]["median_ms"]
        runs = max(50, int(seconds * 1000 / max(per_run, 0.05)))
        subprocess.run([_bin("litert-benchmark"), "--model", str(path), "--num_threads", str(threads),
                        "--num_runs", str(runs), "--warmup_runs", "20", "--result_json", str(out)],
                       capture_output=True, text=True, check=True)
        return json.loads(out.read_text())["latency"]["median_ms"]


def main() -> int:
    """Compare every model on every backend and print the ratios."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--repeats", type=int, default=3, help="fresh processes per tool, alternating")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    rows = []
    for key, (backends, shape) in MODELS.items():
        path = real_model_path(key)
        for backend in backends:
            vendor = "benchmark_app" if backend == "openvino" else "litert-benchmark"
            tool = benchmark_app_median if backend == "openvino" else litert_median
            # Per-process variance (thread placement) is large on small VMs: alternate the tools over
            # several fresh processes and compare the medians of their medians.
            ours_runs, theirs_runs = [], []
            for _ in range(args.repeats):
                o, precision = edgevid_median(path, backend, args.threads, args.seconds)
                ours_runs.append(o)
                theirs_runs.append(tool(path, args.threads, args.seconds, shape))
            ours, theirs = statistics.median(ours_runs), statistics.median(theirs_runs)
            rows.append({"model": key, "backend": backend, "vendor_tool": vendor, "edgevid_p50_ms": round(ours, 3),
                         "vendor_median_ms": round(theirs, 3), "ratio": round(ours / theirs, 3),
                         "precision": precision, "threads": args.threads})
            r = rows[-1]
            flag = "ok" if abs(r["ratio"] - 1) <= 0.10 else "OUTSIDE ±10%"
            print(f"{key:16s} {backend:9s} edgevid {ours:8.3f} ms  {vendor:16s} {theirs:8.3f} ms  "
                  f"ratio {r['ratio']:.3f}  ({precision})  {flag}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
