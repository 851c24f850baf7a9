"""``edgevid run``: a task over video files, image folders, cameras or streams, results to JSONL."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading


def add_parser(sub) -> None:
    """Register the ``run`` command."""
    p = sub.add_parser("run", help="run a task on sources, one JSON object per processed frame")
    p.add_argument("task")
    p.add_argument("sources", nargs="+", metavar="SOURCE",
                   help="video file, image folder or glob, camera index, /dev/videoN, rtsp:// or http:// URL; "
                        "'sample' is the built-in sample video")
    p.add_argument("--out", metavar="FILE.jsonl", help="write results here (default: stdout)")
    p.add_argument("--annotate", metavar="OUT.mp4", help="also write the frames with results drawn on them")
    p.add_argument("--backend")
    p.add_argument("--device", dest="device", help="backend device (CPU, GPU, NPU, AUTO, ...)")
    p.add_argument("--variant")
    p.add_argument("--profile", help="device profile to select for (default: detected)")
    p.add_argument("--threads", type=int)
    p.add_argument("--precision", help="execution precision hint: f32, bf16, f16")
    p.add_argument("--fps", type=float, help="sample at most this many frames per second")
    p.add_argument("--stride", type=int, default=1, help="keep every Nth frame")
    p.add_argument("--start", type=float, default=0.0, help="start time in seconds")
    p.add_argument("--end", type=float, help="end time in seconds")
    p.add_argument("--option", "-o", action="append", default=[], metavar="KEY=VALUE",
                   help="task option, e.g. -o model=full -o score_threshold=0.6 (values parsed as JSON when possible)")
    p.add_argument("--sequential", action="store_true", help="run the stages one after another (no pipelining)")
    p.add_argument("--mqtt", metavar="HOST[:PORT]",
                   help="publish events at QoS 1; a local spool keeps them until the broker acknowledges")
    p.add_argument("--zones", metavar="zones.json", help="zones and lines whose enter/exit/cross events go to the output")
    p.add_argument("--no-track", dest="track", action="store_false",
                   help="do not give detections stable track ids (ByteTrack association)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def _options(pairs: list[str]) -> dict:
    from ..errors import ConfigError

    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--option expects KEY=VALUE, got {pair!r}")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


class _Progress:
    """A rich progress line on a terminal (frames, FPS, drops); nothing when stderr is piped."""

    def __init__(self, enabled: bool) -> None:
        self.bar = None
        if enabled and sys.stderr.isatty():
            from rich.progress import Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn("{task.description}"), TimeElapsedColumn(), transient=True,
                                console=None)
            self.bar.start()
            self.id = self.bar.add_task("starting")

    def __call__(self, stats) -> None:
        if self.bar is not None and stats.frames % 5 == 0:
            drops = sum(s.get("dropped", 0) for s in stats.sources.values())
            self.bar.update(self.id, description=f"{stats.frames} frames  {stats.fps:5.1f} fps  {drops} dropped")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def run(args) -> int:
    """Load the task, open the sources, run the pipeline; SIGINT/SIGTERM end it gracefully with exit code 0."""
    from ..api import load
    from ..pipeline.runner import Pipeline, inference_threads
    from ..pipeline.sinks import JsonlSink
    from ..pipeline.sources import Sampling, open_source
    from ..errors import ConfigError
    from ..events.engine import EventEngine
    from ..events.zones import load as load_zones
    from ..registry import get_registry

    task_cls = get_registry().task(args.task)  # unknown tasks fail here, before any model or source is touched
    layout = load_zones(args.zones) if args.zones else None  # so does a bad zones file
    if layout and not args.track:
        raise ConfigError("--zones needs tracking; drop --no-track")
    sampling = Sampling(fps=args.fps, stride=args.stride, start=args.start, end=args.end)
    sources = []
    try:
        for spec in args.sources:
            if spec == "sample" and not os.path.exists(spec):
                from ..samples import sample_video

                spec = str(sample_video())
            sources.append(open_source(spec, sampling))
        threads = args.threads if args.sequential else inference_threads(task_cls, args.threads)
        task = load(args.task, backend=args.backend, device=args.device, variant=args.variant,
                    precision=args.precision, threads=threads, profile=args.profile, **_options(args.option))
    except BaseException:
        for s in sources:
            s.close()
        raise
    sinks = [JsonlSink(args.out if args.out else "/dev/stdout")]
    if args.annotate:
        from ..pipeline.annotate import AnnotateSink

        fps = args.fps or getattr(sources[0], "fps", None) or 10.0
        sinks.append(AnnotateSink(args.annotate, fps=fps / (args.stride if not args.fps else 1)))
    if args.mqtt:
        from ..models.store import home
        from ..pipeline.mqtt import MqttSink, parse_address

        host, port = parse_address(args.mqtt)
        sinks.append(MqttSink(args.mqtt, home() / "spool" / f"mqtt-{host}-{port}.sqlite"))
    tracker = None
    if args.track:
        from ..tracking.bytetrack import ByteTracker

        tracker = ByteTracker()
    pipe = Pipeline(task, sources, sinks, pipelined=not args.sequential, tracker=tracker, events=EventEngine(layout))
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda *_: pipe.stop())
    progress = _Progress(not args.no_progress)
    try:
        stats = pipe.run(progress)
    finally:
        progress.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        task.close()
    summary = stats.as_dict()
    print(f"edgevid: {summary['frames']} frames in {summary['wall_s']} s ({summary['fps']} fps)"
          + (", interrupted" if stats.interrupted else "")
          + "".join(f"; {name}: {s['skipped']} skipped, {s['dropped']} dropped" for name, s in summary["sources"].items()
                    if s["skipped"] or s["dropped"]), file=sys.stderr)
    return 0
