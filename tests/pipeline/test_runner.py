"""The pipeline: order, equivalence with a plain loop, JSONL rows, failures flushed, graceful signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

import edgevid
from edgevid.errors import SourceCorruptError
from edgevid.pipeline.runner import Pipeline
from edgevid.pipeline.sinks import JsonlSink
from edgevid.pipeline.sources import open_source


def cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "edgevid", *args], capture_output=True, text=True, timeout=300, **kw)


def test_pipelined_results_equal_the_plain_loop_in_order(video):
    task = edgevid.load("face", backend="tflite", model="short")
    plain = [task(f.image).xyxy.round(3).tolist() for f in open_source(str(video))]
    pipe = Pipeline(task, [open_source(str(video))], queue_size=2)
    got = list(pipe.results())
    assert [f.index for f, _ in got] == list(range(40))
    assert [r.xyxy.round(3).tolist() for _, r in got] == plain
    assert pipe.stats.frames == 40 and all(v > 0 for k, v in pipe.stats.stages.seconds.items() if k != "sink")


def test_face_jsonl_rows_follow_the_moving_face(video, tmp_path):
    out = tmp_path / "r.jsonl"
    proc = cli("run", "face", str(video), "--out", str(out), "--backend", "tflite", "-o", "model=\"short\"")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["frame"] for r in rows] == list(range(40))
    assert all(r["task"] == "face" and r["source"] == str(video) for r in rows)
    found = [r for r in rows if r["detections"]]
    assert len(found) >= 36
    d = found[0]["detections"][0]
    assert set(d) >= {"box", "score", "keypoints"} and len(d["box"]) == 4
    # the face moves right by 5 px per frame; so must the box
    xs = [r["detections"][0]["box"][0] for r in found]
    frames = [r["frame"] for r in found]
    slope = (xs[-1] - xs[0]) / (frames[-1] - frames[0])
    assert slope == pytest.approx(5.0, abs=0.6)


def test_truncated_file_flushes_decoded_frames_then_exits_with_corrupt_code(truncated, tmp_path):
    out = tmp_path / "t.jsonl"
    proc = cli("run", "motion", str(truncated), "--out", str(out))
    assert proc.returncode == SourceCorruptError.exit_code, proc.stderr
    assert "Traceback" not in proc.stderr and "truncated or corrupt" in proc.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) >= 10 and [r["frame"] for r in rows] == list(range(len(rows)))


def test_errors_at_the_door(tmp_path, video):
    assert cli("run", "nosuch", str(video)).returncode == 3
    proc = cli("run", "motion", str(tmp_path / "missing.mp4"))
    assert proc.returncode == 13 and proc.stderr.strip().splitlines()[-1].startswith("edgevid: error:")
    assert cli("run", "motion", str(video), "--stride", "0").returncode == 2


def test_sigint_stops_gracefully_with_complete_jsonl(tmp_path):
    from tests.pipeline.conftest import moving_face_frames, write_video

    long = write_video(tmp_path / "long.mp4", moving_face_frames(40) * 15)  # 600 frames
    out = tmp_path / "s.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "edgevid", "run", "face", str(long), "--out", str(out),
                             "--backend", "tflite"], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while (not out.exists() or out.stat().st_size < 2000) and time.monotonic() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "interrupted" in err
    rows = [json.loads(line) for line in out.read_text().splitlines()]  # every line complete JSON
    assert 0 < len(rows) < 600 and [r["frame"] for r in rows] == list(range(len(rows)))


def test_jsonl_is_synced_within_a_second(tmp_path):
    sink = JsonlSink(str(tmp_path / "x.jsonl"), interval=0.2)
    sink.write({"frame": 0})
    time.sleep(0.25)
    sink.write({"frame": 1})  # the interval passed: this write syncs both lines
    assert len((tmp_path / "x.jsonl").read_text().splitlines()) == 2
    sink.close()


def test_stream_api_and_early_break(video):
    seen = []
    for r in edgevid.stream("motion", str(video), stride=2):
        seen.append(r.frame)
        if len(seen) == 5:
            break
    assert seen == [0, 2, 4, 6, 8]
    rows = [r.to_dict() for r in edgevid.stream("face", str(video), end=0.5, backend="tflite")]
    assert [r["frame"] for r in rows] == [0, 1, 2, 3, 4] and all("detections" in r for r in rows)


def test_multiple_sources_in_one_run(video, tmp_path):
    out = tmp_path / "m.jsonl"
    proc = cli("run", "motion", str(video), str(video), "--stride", "10", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["frame"] for r in rows] == [0, 10, 20, 30] * 2


@pytest.mark.parametrize("task,key", [("face", "detections"), ("segment", "mask"), ("pose", "poses"),
                                      ("text", "texts"), ("motion", "events")])
def test_every_task_runs_on_the_builtin_sample(task, key, tmp_path):
    out = tmp_path / f"{task}.jsonl"
    proc = cli("run", task, "sample", "--end", "1.0", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["frame"] for r in rows] == list(range(10))  # 1 s of the 10 fps sample
    assert all(r["task"] == task and key in r for r in rows)
    if task == "face":
        assert sum(len(r["detections"]) for r in rows) >= 10  # the near face in every frame
    if task == "segment":
        assert all(r["mask_area"] > 0 for r in rows)  # a person is in every frame


def test_annotated_video_shows_the_boxes(video, tmp_path):
    import cv2
    import numpy as np

    out, ann = tmp_path / "a.jsonl", tmp_path / "a.mp4"
    proc = cli("run", "face", str(video), "--out", str(out), "--annotate", str(ann), "--backend", "tflite",
               "-o", 'model="short"')
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    cap = cv2.VideoCapture(str(ann))
    frames = []
    while (ok := cap.read())[0]:
        frames.append(ok[1])
    assert len(frames) == 40 and frames[0].shape == (240, 320, 3)
    src = [f.image for f in open_source(str(video))]
    checked = 0
    for row, drawn, orig in zip(rows, frames, src):
        if not row["detections"]:
            continue
        x1, y1, x2, y2 = (int(round(v)) for v in row["detections"][0]["box"])
        edge = drawn[max(0, y1 - 1):y1 + 2, x1 + 5:x2 - 5].reshape(-1, 3).astype(int)
        # the top edge is drawn green: G high, R and B low (mp4v blurs colours a little)
        assert np.median(edge[:, 1]) > 150 and np.median(edge[:, 2]) < 120, edge[:5]
        # far from any box the picture is the source picture
        assert np.abs(drawn[-20:, :60].astype(int) - orig[-20:, :60].astype(int)).mean() < 12
        checked += 1
    assert checked >= 30


def test_run_gives_detections_stable_track_ids(video, tmp_path):
    out = tmp_path / "t.jsonl"
    proc = cli("run", "face", str(video), "--out", str(out), "--backend", "tflite", "-o", 'model="short"')
    assert proc.returncode == 0, proc.stderr
    ids = {d.get("track_id") for line in out.read_text().splitlines() for d in json.loads(line)["detections"]}
    assert ids == {1}  # one face, one id for the whole clip
    proc = cli("run", "face", str(video), "--out", str(out), "--no-track", "--end", "0.5")
    assert all("track_id" not in d for line in out.read_text().splitlines() for d in json.loads(line)["detections"])
