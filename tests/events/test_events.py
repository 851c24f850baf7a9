"""Zone, line and motion events on exact geometry; the zones file format; events in edgevid run."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from dataclasses import dataclass, field

import numpy as np
import pytest

from edgevid.errors import ConfigError
from edgevid.events.engine import EventEngine
from edgevid.events.zones import load, parse
from edgevid.tasks.results import Detections


@dataclass
class F:
    index: int
    time: float
    source: str = "test"
    image: np.ndarray = field(default_factory=lambda: np.zeros((480, 640, 3), np.uint8))


def det(box, tid):
    return Detections(xyxy=np.array([box], np.float32), score=np.array([0.9], np.float32),
                      tracker_id=np.array([tid]))


LAYOUT = parse({"zones": [{"name": "door", "polygon": [[200, 0], [400, 0], [400, 480], [200, 480]]}],
                "lines": [{"name": "gate", "points": [[300, 0], [300, 480]]}]})


def walk(engine, xs, tid=1):
    """A person (40x100 box) walking so that its bottom centre is at x, y=300."""
    out = []
    for i, x in enumerate(xs):
        out += engine.update(F(i, i / 10), det([x - 20, 200, x + 20, 300], tid))
    return out


def test_enter_cross_exit_in_order_with_ids_and_times():
    ev = walk(EventEngine(LAYOUT), range(100, 520, 20))
    kinds = [(e["type"], e.get("zone") or e.get("line")) for e in ev]
    assert kinds == [("zone_enter", "door"), ("line_cross", "gate"), ("zone_exit", "door")]
    assert ev[1]["direction"] == "b_to_a"  # moving +x across a line drawn downwards: left to right of travel
    assert [e["frame"] for e in ev] == [5, 11, 16]  # x=200 enters (edge inclusive); x=300 is on the line, 320 crossed; 420 is out
    for e in ev:
        uuid.UUID(e["event_id"])
        assert e["track_id"] == 1 and e["source"] == "test" and e["timestamp"].endswith("+00:00")
    assert len({e["event_id"] for e in ev}) == 3


def test_jitter_on_a_line_crosses_once():
    xs = [250, 290, 298, 302, 297, 303, 299, 301, 330, 331]  # dithering within 4 px of x=300
    ev = [e for e in walk(EventEngine(LAYOUT), xs) if e["type"] == "line_cross"]
    assert len(ev) == 1


def test_crossing_beyond_the_segment_is_not_a_crossing():
    layout = parse({"lines": [{"name": "short", "points": [[300, 0], [300, 100]]}]})  # ends above y=300
    assert walk(EventEngine(layout), range(200, 420, 20)) == []


def test_a_lost_track_exits_its_zone():
    eng = EventEngine(LAYOUT, lost_after=3)
    walk(eng, [250])
    ev = []
    for i in range(1, 6):
        ev += eng.update(F(i, i / 10), Detections())
    assert [(e["type"], e["lost"]) for e in ev] == [("zone_exit", True)]


def test_motion_events_get_ids():
    @dataclass
    class Motion:
        events: list

    ev = EventEngine().update(F(7, 0.7), Motion([{"type": "motion_start", "ratio": 0.05}]))
    assert ev[0]["type"] == "motion_start" and ev[0]["ratio"] == 0.05 and ev[0]["frame"] == 7
    uuid.UUID(ev[0]["event_id"])


def test_normalized_zones_scale_to_the_frame():
    layout = parse({"zones": [{"name": "left", "polygon": [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]}], "normalized": True})
    eng = EventEngine(layout)
    assert [e["type"] for e in walk(eng, [100, 300, 340])] == ["zone_enter", "zone_exit"]  # 0.5 * 640 = 320


@pytest.mark.parametrize("bad,msg", [
    ({"zones": [{"polygon": [[0, 0], [1, 0], [1, 1]]}]}, "unique 'name'"),
    ({"zones": [{"name": "a", "polygon": [[0, 0], [1, 0]]}]}, "at least 3"),
    ({"lines": [{"name": "l", "points": [[0, 0]]}]}, "exactly 2"),
    ({"areas": []}, "expected an object"),
])
def test_bad_zone_files_are_config_errors(bad, msg, tmp_path):
    with pytest.raises(ConfigError, match=msg):
        parse(bad)
    (tmp_path / "z.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load(tmp_path / "z.json")


def test_run_writes_zone_events(tmp_path):
    from tests.pipeline.conftest import moving_face_frames, write_video

    video = write_video(tmp_path / "v.mp4", moving_face_frames(40))  # face moves right 5 px/frame from x=20
    zones = tmp_path / "zones.json"
    zones.write_text(json.dumps({"lines": [{"name": "mid", "points": [[0.5, 0], [0.5, 1]]}], "normalized": True}))
    out = tmp_path / "r.jsonl"
    proc = subprocess.run([sys.executable, "-m", "edgevid", "run", "face", str(video), "--zones", str(zones),
                           "--out", str(out), "--backend", "tflite", "-o", 'model="short"'],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    events = [e for line in out.read_text().splitlines() for e in json.loads(line).get("events", [])]
    assert [(e["type"], e["line"], e["track_id"]) for e in events] == [("line_cross", "mid", 1)]
    bad = subprocess.run([sys.executable, "-m", "edgevid", "run", "face", str(video), "--zones", str(tmp_path / "no.json")],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
