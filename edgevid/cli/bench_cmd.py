"""``edgevid bench``: measure every backend, device and variant that can run a task or a model, here."""

from __future__ import annotations

import json
import sys
from pathlib import Path

DEFAULT_TASK = "face"


def add_parser(sub) -> None:
    """Register the ``bench`` command."""
    p = sub.add_parser("bench", help="latency, throughput, load time, memory, video FPS and accuracy per configuration")
    p.add_argument("tasks", nargs="*", metavar="TASK", help=f"tasks to bench (default: {DEFAULT_TASK})")
    p.add_argument("--model", type=Path, help="bench a bare .onnx, .tflite or OpenVINO .xml file (no plugin needed)")
    p.add_argument("--backend", nargs="+", help="backends (default: all available)")
    p.add_argument("--device", nargs="+", help="devices (default: all each backend has, AUTO only when named)")
    p.add_argument("--variant", nargs="+", help="variants (default: all the backends can run)")
    p.add_argument("--source", type=Path, help="video for accuracy and end-to-end FPS (default: built-in sample)")
    p.add_argument("--duration", type=float, default=2.0, help="minimum seconds of timed runs per configuration")
    p.add_argument("--runs", type=int, help="exactly this many timed runs (overrides --duration)")
    p.add_argument("--min-runs", type=int, default=50)
    p.add_argument("--target-ci", type=float, help="stop once the median's 95%% CI is within ± this fraction (e.g. 0.02)")
    p.add_argument("--threads", type=int, help="threads per inference (default: the runtime's or the profile's)")
    p.add_argument("--floor", type=float, default=0.99, help="accuracy floor vs the fp32 reference (default 0.99)")
    p.add_argument("--json", type=Path, help="write the full results (schema in docs/bench.md)")
    p.add_argument("--html", type=Path, help="write a self-contained HTML report")
    p.add_argument("--compare", type=Path, metavar="BASELINE.json", help="show changes against a previous --json")
    p.add_argument("--recommend", choices=["latency", "throughput"], nargs="?", const="latency",
                   help="name the best configuration at or above the floor, and store it for selection on this host")
    p.set_defaults(func=run)


def _frames(source: Path | None):
    from ..errors import SourceCorruptError
    from ..pipeline.sources import open_source
    from ..samples import sample_video

    path = source or sample_video()
    frames = [f.image for f in open_source(str(path))]
    if not frames:
        raise SourceCorruptError(f"{path}: no frames")
    return path, frames


def run(args) -> int:
    """Run the bench, print the table, and write/compare/recommend as asked."""
    from ..bench import report
    from ..bench.host import metadata
    from ..bench.measure import Budget
    from ..bench.recommend import recommend, store
    from ..bench.run import Selection, bench_model, bench_task
    from ..errors import ConfigError
    from ..registry import get_registry
    from ._table import print_table

    sel = Selection(tuple(args.backend) if args.backend else None,
                    tuple(d.upper() for d in args.device) if args.device else None,
                    tuple(args.variant) if args.variant else None, args.threads)
    budget = Budget(min_runs=min(args.min_runs, args.runs or args.min_runs), min_seconds=args.duration,
                    max_seconds=max(10.0, 5 * args.duration), target_ci=args.target_ci, runs=args.runs)
    say = (lambda msg: print(f"  benchmarking {msg} ...", file=sys.stderr)) if sys.stderr.isatty() else (lambda m: None)
    docs = []
    if args.model:
        if args.tasks:
            raise ConfigError("give either TASK names or --model, not both")
        if not args.model.is_file():
            from ..errors import ModelNotFoundError

            raise ModelNotFoundError(f"{args.model}: no such model file")
        rows = bench_model(args.model, sel, budget, say)
        docs.append(report.document("model", str(args.model), None, metadata(args.threads), budget.__dict__, rows, [], None))
    else:
        source, frames = _frames(args.source)
        for task in args.tasks or [DEFAULT_TASK]:
            get_registry().task(task)
            rows, skipped = bench_task(task, frames, source, sel, budget, args.floor, say)
            docs.append(report.document("task", task, str(source), metadata(args.threads), budget.__dict__, rows,
                                        skipped, None))
    for doc in docs:
        if not doc["results"]:
            raise ConfigError(f"nothing to bench for {doc['subject']}: no installed backend can run it "
                              f"({'; '.join(s['reason'] for s in doc['skipped']) or 'no matching backend/device'})")
        if args.recommend:
            doc["recommendation"] = recommend(doc, args.recommend)
            if doc["recommendation"] and doc["kind"] == "task":
                store(doc["recommendation"], [c.id for c in get_registry().task(doc["subject"]).models.values()])
        headers, rows = report.table(doc)
        host = doc["host"]
        print_table(headers, rows, title=f"edgevid bench: {doc['subject']} on {host['cpu']} ({host['cores']} cores)")
        if host["busy"]:
            print(f"warning: load average {host['loadavg'][0]} shows other work on this machine; figures may be pessimistic")
        noisy = [report.label(r) for r in doc["results"] if r["latency_ms"]["noisy"]]
        if noisy:
            print(f"warning: too noisy to trust (cv > 0.15): {', '.join(noisy)}; rerun with a longer --duration")
        for s in doc["skipped"]:
            print(f"skipped {s['backend']}/{s['device']}/{s['variant']}: {s['reason']}")
        if doc.get("recommendation"):
            r = doc["recommendation"]
            print(f"recommended ({r['goal']}): {r['config']} — {r['why']}")
        if args.compare:
            _print_compare(doc, args.compare)
    out = docs[0] if len(docs) == 1 else {"schema_version": report.SCHEMA_VERSION, "runs": docs}
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    if args.html:
        from ..bench.html import render

        args.html.write_text(render(docs[0]))
    return 0


def _print_compare(doc: dict, baseline_path: Path) -> None:
    from ..bench.compare import compare
    from ..errors import ConfigError
    from ._table import print_table

    try:
        base = json.loads(baseline_path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"--compare {baseline_path}: cannot read a bench JSON ({exc})") from exc
    rows = compare(doc, base)
    print_table(["config", "p50 ms", "baseline", "change", "fps change", "verdict"],
                [[r["config"], f"{r['p50_ms']:.2f}", f"{r['baseline_p50_ms']:.2f}", f"{r['p50_change']:+.1%}",
                  "" if r["fps_change"] is None else f"{r['fps_change']:+.1%}",
                  "REGRESSION" if r["regression"] else "faster" if r["improvement"] else "within noise"] for r in rows],
                title=f"compared with {baseline_path}")
