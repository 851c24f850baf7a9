"""int8 speed-up per task, model and backend: the best int8 variant against the best float one, same run.

    python benchmarks/int8_speedup.py [TASK ...] [--rounds 3] [--seconds 2] [--threads 2] [--json out.json]

For every model of each task (default: text, face) that ``edgevid build`` has quantized (it builds
the int8 variants first if the store has none), each backend times its float variants (fp32 at the
backend's default precision, bf16 on this CPU for OpenVINO, and at f32) and its int8 variant on the
same real input: what the task fed that model on a held-out frame. Rounds alternate the
configurations, so drift on a shared machine hits them alike; the figure is the median of the
rounds' medians. The accuracy column is the task metric against fp32 from the build manifest.

Goal (issue 6): int8 at least 1.5x the best float variant of the same backend at >= 99% of fp32.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from edgevid.api import load, load_model
from edgevid.bench.host import metadata
from edgevid.bench.measure import Budget, time_calls
from edgevid.models.catalog import variants
from edgevid.models.select import Choice
from edgevid.registry import get_registry
from edgevid.tasks.feeds import capture

#: backend -> (int8 variant it runs, float precisions to compare with; None = the backend's default)
BACKENDS = {"onnxruntime": ("int8", (None,)), "openvino": ("int8-ov", (None, "f32")), "tflite": ("int8-tflite", (None,))}


def _feed(task: str, role: str) -> dict:
    from edgevid_quantize.frames import frames

    _, heldout = frames(task)
    t = load(task, variant="fp32", precision="f32")
    try:
        # the first held-out frame the task routes to this model (wide frames go to a landscape model)
        return capture(t, heldout, limit=1)[role][0]
    finally:
        t.close()


def _configs(card, backend: str, threads: int) -> list[tuple[str, Choice]]:
    int8, float_precisions = BACKENDS[backend]
    names = {v.name for v in card.variants}
    if int8 not in names:
        return []
    cls = get_registry().backends[backend]
    out = []
    # the fp32 reference, or its verified conversion where the backend cannot run the source
    # (ONNX Runtime reads no .tflite; OpenVINO no MediaPipe custom op; LiteRT no .onnx)
    ref = next((v for v in (card.reference, *[v for v in card.variants if v.name in ("fp32-onnx", "fp32-tflite")])
                if cls.reads(v.format) and not v.incompatible_reason(backend)), None)
    if ref is not None:
        out += [(f"{ref.name}@{p or 'default'}", Choice(card, ref, backend, "CPU", precision=p, threads=threads))
                for p in float_precisions]
    out.append((int8, Choice(card, card.variant(int8), backend, "CPU", threads=threads)))
    return out


def _ov_layers(path: str, feed: dict, precision: str | None, threads: int, runs: int = 20) -> dict[str, float]:
    """OpenVINO per-layer time (performance counters), summed by (layer type, kernel): ms per inference."""
    import openvino as ov

    config = {"PERF_COUNT": True, "INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"}
    if precision:
        config["INFERENCE_PRECISION_HINT"] = precision
    req = ov.Core().compile_model(path, "CPU", config).create_infer_request()
    totals: dict[str, float] = {}
    for _ in range(runs):
        req.infer(feed)
        for p in req.profiling_info:
            if p.status == p.Status.EXECUTED:
                key = f"{p.node_type} [{p.exec_type}]"
                totals[key] = totals.get(key, 0.0) + p.real_time.total_seconds() * 1000 / runs
    return totals


def _lite_layers(path: str) -> dict[str, float]:
    """LiteRT has no per-op timer in Python. Instead: how many partitions XNNPACK splits the graph into (each
    boundary hands tensors back to LiteRT), and the model's ops by type (counts, not times)."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=path)
    interp.allocate_tensors()
    counts: dict[str, float] = {}
    for op in interp._get_ops_details():
        key = "XNNPACK partitions" if op["op_name"] == "DELEGATE" else f"{op['op_name']} (ops in the model)"
        counts[key] = counts.get(key, 0) + 1
    return counts


def fitted(feed: dict, session) -> dict:
    """``feed`` in the form ``session`` takes: a fixed-size NHWC conversion (onnx2tf) gets the same pixels."""
    from edgevid.vision.image import input_form
    from edgevid_quantize.onnx_tflite import nhwc

    (x,) = feed.values()
    h, w, nchw, _ = input_form(session.inputs[0])
    if nchw or x.shape[-1] == 3:
        return {session.inputs[0].name: x}
    return {session.inputs[0].name: nhwc(x, [1, x.shape[1], h, w])[0]}


def _ort_layers(path: str, feed: dict, threads: int, runs: int = 20) -> dict[str, float]:
    """ONNX Runtime per-node time (its profiler), summed by operator type: ms per inference."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.enable_profiling = True
    so.intra_op_num_threads = threads
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    for _ in range(runs):
        sess.run(None, feed)
    trace = sess.end_profiling()
    totals: dict[str, float] = {}
    with open(trace) as f:
        for ev in json.load(f):
            if ev.get("cat") == "Node" and ev["name"].endswith("_kernel_time"):
                op = ev["args"].get("op_name", "?")
                totals[op] = totals.get(op, 0.0) + ev["dur"] / 1000 / runs
    Path(trace).unlink(missing_ok=True)
    return totals


def explain(row: dict, models: dict, feed: dict, threads: int, top: int = 6) -> list[str]:
    """Where the int8 model spends its time next to the best float one, by layer type: the evidence for a miss."""
    int8 = BACKENDS[row["backend"]][0]
    names = (row["float"], int8)
    prof = {}
    for name in names:
        m = models[name]
        if row["backend"] == "openvino":
            prof[name] = _ov_layers(str(m.path), feed, m.session.info().get("precision") if name != int8 else None,
                                    threads)
        elif row["backend"] == "tflite":
            prof[name] = _lite_layers(str(m.path))
        else:
            prof[name] = _ort_layers(str(m.path), feed, threads)
    keys = sorted(set(prof[names[0]]) | set(prof[names[1]]),
                  key=lambda k: -max(prof[names[0]].get(k, 0), prof[names[1]].get(k, 0)))
    unit = "" if row["backend"] == "tflite" else " ms"  # LiteRT: op counts, not times
    lines = [f"    {'layer type [kernel]':44s} {names[0]:>16s} {names[1]:>10s}"]
    for k in keys[:top]:
        lines.append(f"    {k[:44]:44s} {prof[names[0]].get(k, 0):13.2f}{unit} {prof[names[1]].get(k, 0):7.2f}{unit}")
    if unit:
        lines.append(f"    {'total':44s} {sum(prof[names[0]].values()):13.2f}{unit} {sum(prof[names[1]].values()):7.2f}{unit}")
    return lines


def run(tasks: list[str], rounds: int, seconds: float, threads: int) -> list[dict]:
    """Measure every (task, model, backend) pair; returns one row per backend and model."""
    from edgevid_quantize.build import build

    rows = []
    for task in tasks:
        cls = get_registry().task(task)
        cards = {role: variants(card) for role, card in cls.models.items() if role in cls.roles()}
        if not any(v.name in ("int8", "int8-ov") for c in cards.values() for v in c.variants):
            build(task, ("int8",))
            cards = {role: variants(card) for role, card in cards.items()}
        for role, card in cards.items():
            feed = _feed(task, role)
            for backend in BACKENDS:
                configs = _configs(card, backend, threads)
                if len(configs) < 2:
                    continue
                models = {name: load_model(card, choice) for name, choice in configs}
                feeds = {name: fitted(feed, m.session) for name, m in models.items()}
                medians: dict[str, list[float]] = {name: [] for name in models}
                budget = Budget(min_runs=20, min_seconds=seconds, max_seconds=4 * seconds)
                for _ in range(rounds):
                    for name, m in models.items():
                        medians[name].append(time_calls(lambda m=m, f=feeds[name]: m.run(f), budget).summary.p50)
                p50 = {name: statistics.median(v) for name, v in medians.items()}
                precision = {name: m.session.info().get("precision") for name, m in models.items()}
                int8 = BACKENDS[backend][0]
                best_float = min((n for n in p50 if n != int8), key=p50.get)
                v = card.variant(int8)
                row = {"task": task, "model": card.id, "backend": backend,
                       "shape": {k: list(a.shape) for k, a in feeds[int8].items()},
                       "float": best_float, "float_precision": precision[best_float], "float_ms": p50[best_float],
                       "int8_ms": p50[int8], "int8_precision": precision[int8],
                       "speedup": p50[best_float] / p50[int8], "accuracy": v.accuracy, "all_ms": p50}
                if row["speedup"] < 1.5:
                    row["evidence"] = explain(row, models, feeds[int8], threads)
                for m in models.values():
                    m.close()
                rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    """Print the table (and write JSON); exit 0."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("tasks", nargs="*", default=["text", "face"])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    rows = run(args.tasks, args.rounds, args.seconds, args.threads)
    # the host goes with the figures: int8's gain differs between CPU generations of one name
    host = metadata(args.threads)
    print(f"host: {host['cpu']} (family {host['cpu_family'] or '?'}), {', '.join(host['isa'])}; "
          f"{host['cores']} cores, {args.threads} threads, load {host['loadavg']}")
    print(f"{'task':6s} {'model':24s} {'backend':12s} {'best float':22s} {'ms':>7s} {'int8 ms':>8s} "
          f"{'speed-up':>8s} {'accuracy':>8s}")
    for r in rows:
        flt = f"{r['float']} ({r['float_precision']})"
        acc = "n/a" if r["accuracy"] is None else f"{r['accuracy']:.4f}"
        goal = "" if r["speedup"] >= 1.5 and (r["accuracy"] or 0) >= 0.99 else "  below goal"
        print(f"{r['task']:6s} {r['model']:24s} {r['backend']:12s} {flt:22s} {r['float_ms']:7.2f} "
              f"{r['int8_ms']:8.2f} {r['speedup']:7.2f}x {acc:>8s}{goal}")
        for line in r.get("evidence", []):
            print(line)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"host": host, "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
