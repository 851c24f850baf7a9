"""Tracking on sequences with known trajectories: crossing paths, occlusion, low-score frames, real detections."""

from __future__ import annotations

import numpy as np
import pytest

from edgevid.tasks.results import Detections
from edgevid.tracking.bytetrack import ByteTracker


def trajectories(frames: int = 60):
    """Three objects: A moves right, B moves left crossing A's path, C moves down; exact boxes per frame."""
    out = []
    for f in range(frames):
        a = [20 + 6 * f, 100, 80 + 6 * f, 160]
        b = [400 - 6 * f, 110, 460 - 6 * f, 170]   # crosses A around frame 32
        c = [250, 10 + 4 * f, 290, 60 + 4 * f]
        out.append({"A": a, "B": b, "C": c})
    return out


def id_switches(seq, tracker, scores=None, drop=None):
    """Run the tracker; count ground-truth objects whose track id changed (ID switches)."""
    assigned: dict[str, int] = {}
    switches = 0
    for f, objs in enumerate(seq):
        names = [n for n in objs if not (drop and (f, n) in drop)]
        boxes = np.array([objs[n] for n in names], np.float32).reshape(-1, 4)
        sc = np.array([scores(f, n) if scores else 0.9 for n in names], np.float32)
        out = tracker.update(Detections(xyxy=boxes, score=sc))
        for box, tid in zip(out.xyxy, out.tracker_id):
            name = names[int(np.argmin(np.abs(boxes - box).sum(axis=1)))]
            if name in assigned and assigned[name] != tid:
                switches += 1
            assigned[name] = int(tid)
    return switches, assigned


def test_crossing_paths_keep_their_ids():
    switches, ids = id_switches(trajectories(), ByteTracker())
    assert switches == 0 and len(set(ids.values())) == 3


def test_ids_survive_a_short_occlusion():
    drop = {(f, "A") for f in range(20, 26)}  # A unseen for 6 frames
    switches, ids = id_switches(trajectories(), ByteTracker(), drop=drop)
    assert switches == 0 and len(set(ids.values())) == 3


def test_low_score_frames_are_kept_by_the_second_association():
    scores = lambda f, n: 0.3 if (n == "B" and 10 <= f < 20) else 0.9  # noqa: E731 - B blurred for 10 frames
    switches, _ = id_switches(trajectories(), ByteTracker(), scores=scores)
    assert switches == 0

    def b_reported(tracker) -> int:
        n = 0
        for f, objs in enumerate(trajectories(20)):
            sc = np.array([scores(f, k) for k in objs], np.float32)
            out = tracker.update(Detections(xyxy=np.array(list(objs.values()), np.float32), score=sc))
            n += int(f >= 10 and any(abs(b[0] - objs["B"][0]) < 1 for b in out.xyxy))
        return n

    assert b_reported(ByteTracker()) == 10  # every blurred frame of B keeps its track
    assert b_reported(ByteTracker(low_score=0.5)) == 0  # without the second association they vanish
    out = ByteTracker().update(Detections(xyxy=np.array([[0, 0, 10, 10]], np.float32), score=np.array([0.3], np.float32)))
    assert len(out) == 0  # a low-score detection never starts a track


def test_a_one_frame_false_positive_is_never_reported_after_the_start():
    tracker = ByteTracker()
    seq = trajectories(10)
    for f, objs in enumerate(seq):
        boxes = [objs[n] for n in objs]
        if f == 5:
            boxes.append([500, 300, 540, 340])  # appears once
        out = tracker.update(Detections(xyxy=np.array(boxes, np.float32), score=np.full(len(boxes), 0.9, np.float32)))
        assert len(out) == 3


def test_real_face_detections_keep_one_id(tmp_path):
    import edgevid
    from edgevid.testing.scenes_face import Placement, compose

    face = edgevid.load("face", backend="tflite", model="short")
    tracker = ByteTracker()
    ids = set()
    for i in range(30):
        img = compose("rocket", 240, 320, [Placement("astronaut", 20 + 5 * i, 60, 64)]).image
        out = tracker.update(face(img))
        ids |= set(int(t) for t in out.tracker_id)
    assert ids == {1}
