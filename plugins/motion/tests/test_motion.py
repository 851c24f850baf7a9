"""Motion on a real background with a real object moved along a known path: exact event frames and regions."""

from __future__ import annotations

import numpy as np
import pytest

import edgevid
from edgevid.tasks.results import box_iou

cv2 = pytest.importorskip("cv2")
skdata = pytest.importorskip("skimage.data")

W, H = 640, 480
ENTER, LEAVE, END = 15, 35, 60  # the object is in frames [ENTER, LEAVE)
SIZE = 96


def _scene():
    """(frames, gt boxes or None): coffee background, astronaut's face sliding left to right."""
    bg = cv2.resize(cv2.cvtColor(skdata.coffee(), cv2.COLOR_RGB2BGR), (W, H), interpolation=cv2.INTER_AREA)
    face = cv2.resize(cv2.cvtColor(skdata.astronaut()[82:175, 179:271], cv2.COLOR_RGB2BGR), (SIZE, SIZE))
    frames, boxes = [], []
    for i in range(END):
        # a +-1 grey-level flicker, as a real sensor has; it must raise no event
        f = cv2.add(bg, np.full_like(bg, 1)) if i % 2 else bg.copy()
        box = None
        if ENTER <= i < LEAVE:
            x, y = 40 + (i - ENTER) * 24, 180
            f[y:y + SIZE, x:x + SIZE] = face
            box = [x, y, x + SIZE, y + SIZE]
        frames.append(f)
        boxes.append(box)
    return frames, boxes


@pytest.fixture(scope="module")
def run():
    task = edgevid.load("motion", start_frames=2, stop_frames=5)
    frames, boxes = _scene()
    return [task(f) for f in frames], boxes


def test_events_start_and_stop_at_the_known_frames(run):
    results, _ = run
    events = [(i, e["type"]) for i, r in enumerate(results) for e in r.events]
    # start needs 2 moving frames (ENTER, ENTER+1); stop needs 5 quiet frames after the object left
    assert events == [(ENTER + 1, "motion_start"), (LEAVE + 4, "motion_stop")]


def test_static_frames_have_no_motion(run):
    results, _ = run
    quiet = [r.ratio for i, r in enumerate(results) if 1 <= i < ENTER or i >= LEAVE + 1]
    assert max(quiet) < 0.004


def test_regions_follow_the_object(run):
    results, boxes = run
    ious = []
    for r, gt in zip(results, boxes):
        if gt is None:
            continue
        assert len(r.regions) >= 1
        ious.append(box_iou(np.array([gt]), r.regions.xyxy).max())
    # from the second frame on the object is fully separated from the learnt background
    assert np.mean(ious[1:]) > 0.7, ious


def test_to_dict_is_json_ready(run):
    import json

    results, _ = run
    row = results[ENTER + 1].to_dict()
    assert row["events"][0]["type"] == "motion_start" and row["motion"] is True
    json.dumps(row)


def test_reset_forgets_state(run):
    task = edgevid.load("motion", start_frames=1, stop_frames=1)
    frames, _ = _scene()
    for f in frames[ENTER:ENTER + 3]:
        task(f)
    task.reset()
    assert task(frames[0]).moving is False


def test_bad_method_is_a_config_error():
    with pytest.raises(edgevid.errors.ConfigError if hasattr(edgevid, "errors") else Exception):
        edgevid.load("motion", method="nope")
