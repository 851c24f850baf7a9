"""Pipelined `edgevid run` against a plain loop, on the same model, backend and file, in the same run.

    python benchmarks/pipeline_speedup.py [--task face] [--backend openvino] [--frames 150] [--repeats 3]

* plain loop: OpenCV read, then pre-process, infer, post-process, one after another (``--sequential``);
* pipeline: the same stages in threads with bounded queues (what ``edgevid run`` does);
* slowest stage alone: the largest per-frame stage time measured in the plain loop, as FPS.

Goals (issue #4): pipeline >= 1.3x the plain loop on 2 cores, and >= 0.9x the slowest stage alone.
The 720p test video is composed from real photos (scikit-image) and written once to a temp folder.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import cv2

import edgevid
from edgevid.pipeline.runner import Pipeline
from edgevid.pipeline.sources import open_source
from edgevid.testing.scenes_face import Placement, compose


def make_video(path: Path, frames: int) -> Path:
    """A 1280x720 clip: two faces moving over real backgrounds."""
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, (1280, 720))
    for i in range(frames):
        scene = compose(("rocket", "coffee", "brick")[i // 50 % 3], 720, 1280,
                        [Placement("astronaut", 60 + 4 * i, 160, 150), Placement("camera", 1000 - 2 * i, 420, 60)])
        out.write(scene.image)
    out.release()
    return path


def run_once(task, video: Path, pipelined: bool) -> dict:
    """FPS and per-frame stage times of one pass over the file."""
    pipe = Pipeline(task, [open_source(str(video))], pipelined=pipelined)
    stats = pipe.run()
    per_frame = {k: v / stats.frames for k, v in stats.stages.seconds.items()}
    return {"fps": stats.frames / stats.wall, "frames": stats.frames, "stage_s": per_frame}


def main() -> int:
    """Alternate plain and pipelined passes; report medians and the two ratios."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="face")
    ap.add_argument("--backend", default=None)
    ap.add_argument("--threads", type=int, default=None, help="inference threads (default: the profile's)")
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        video = make_video(Path(tmp) / "720p.mp4", args.frames)
        from edgevid.pipeline.runner import inference_threads
        from edgevid.registry import get_registry

        # the threads `edgevid run` uses: one per inference when several frames infer at once
        threads = args.threads or inference_threads(get_registry().task(args.task), None)
        pins = {k: v for k, v in (("backend", args.backend), ("threads", threads)) if v}
        task = edgevid.load(args.task, **pins)
        run_once(task, video, True)  # warm-up: first inferences, page cache
        plain, piped = [], []
        for _ in range(args.repeats):  # alternate so machine drift hits both alike
            plain.append(run_once(task, video, False))
            piped.append(run_once(task, video, True))
        task.close()
    plain_fps = statistics.median(r["fps"] for r in plain)
    piped_fps = statistics.median(r["fps"] for r in piped)
    stages = {k: statistics.median(r["stage_s"][k] for r in plain) for k in plain[0]["stage_s"]}
    slowest = max(stages, key=stages.get)
    slowest_fps = 1.0 / stages[slowest]
    result = {
        "task": args.task, "backend": args.backend or "auto", "threads": threads or "profile", "frames": args.frames, "resolution": "1280x720",
        "plain_fps": round(plain_fps, 2), "pipeline_fps": round(piped_fps, 2),
        "stage_ms_per_frame": {k: round(v * 1000, 2) for k, v in stages.items()},
        "slowest_stage": slowest, "slowest_stage_fps": round(slowest_fps, 2),
        "speedup_vs_plain": round(piped_fps / plain_fps, 3), "ratio_vs_slowest_stage": round(piped_fps / slowest_fps, 3),
    }
    print(json.dumps(result, indent=1))
    ok = result["speedup_vs_plain"] >= 1.3 and result["ratio_vs_slowest_stage"] >= 0.9
    print(f"pipeline {piped_fps:.1f} fps vs plain loop {plain_fps:.1f} fps: {result['speedup_vs_plain']:.2f}x "
          f"(goal 1.3x); vs slowest stage ({slowest}, {slowest_fps:.1f} fps): {result['ratio_vs_slowest_stage']:.2f} "
          f"(goal 0.9) -> {'met' if ok else 'NOT met'}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
