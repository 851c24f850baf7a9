"""`import edgevid` stays light: no runtime, no OpenCV, no CLI library, and the public surface is complete."""

from __future__ import annotations

import json
import subprocess
import sys

import edgevid

HEAVY = ["onnxruntime", "openvino", "ai_edge_litert", "tflite_runtime", "cv2", "tensorflow", "torch", "rich", "click"]


def test_import_pulls_no_heavy_module():
    code = "import sys, json, edgevid; print(json.dumps(sorted(sys.modules)))"
    mods = set(json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout))
    assert not [m for m in HEAVY if m in mods]


def test_import_is_fast_relative_to_numpy():
    # a ratio against a reference taken in the same run: edgevid's own import adds little to numpy's
    code = (
        "import time; t=time.perf_counter(); import numpy; a=time.perf_counter()-t;"
        "t=time.perf_counter(); import edgevid; b=time.perf_counter()-t; print(a, b)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    numpy_s, edgevid_s = map(float, out)
    assert edgevid_s < max(numpy_s, 0.02), (numpy_s, edgevid_s)


def test_all_lists_every_public_name_and_each_resolves():
    for name in edgevid.__all__:
        assert getattr(edgevid, name) is not None, name
    assert {"load", "Task", "Detections", "hookimpl", "ModelCard"} <= set(edgevid.__all__)


def test_unknown_attribute_is_an_attribute_error():
    try:
        edgevid.not_a_thing  # noqa: B018
    except AttributeError as exc:
        assert "not_a_thing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")
