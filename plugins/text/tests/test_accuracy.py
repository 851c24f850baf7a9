"""Accuracy of the ``text`` task on real photos with rendered strings of exact ground truth.

Metrics (see ``edgevid.testing.scenes_text.score``), measured on the 27 lines of the six standard scenes:

* detection recall: a line is found when a detection's enclosing box has IoU >= 0.5 with the line's ink
  box (one-to-one). Measured 27/27 on onnxruntime and OpenVINO (f32 and bf16); typical IoU 0.84
  (min 0.69): the DB boxes are grown around the ink, so the ink box is smaller than the detection;
* character accuracy: mean of 1 - normalised Levenshtein distance per line, a missed line counting 0.
  PP-OCRv4's recogniser (trained mostly on Chinese) often drops the space between words
  ("EXIT 12" -> "EXIT12"): measured 0.954 with spaces counted (0.933 when lines were padded to the widest
  in their batch), 0.997 ignoring spaces (one O read as 0).

Bounds sit below the measurements with margin, and a decoder off by one class fails all of them.
"""

from __future__ import annotations

import pytest

from edgevid.testing.scenes_text import no_text_frame, score

BACKENDS = [("onnxruntime", None), ("openvino", "f32"), ("openvino", None)]


@pytest.mark.parametrize(("backend", "precision"), BACKENDS, ids=["ort", "ov-f32", "ov-default"])
def test_detection_recall_and_character_accuracy(readings, scenes, backend, precision):
    s = score(scenes, readings(backend, precision))
    detail = list(zip(s.truth, s.read))
    assert s.recall >= 0.9, f"recall {s.recall:.3f}: {detail}"
    assert s.mean_iou() >= 0.7, f"mean IoU {s.mean_iou():.3f}"
    assert s.char_accuracy(ignore_spaces=True) >= 0.95, detail
    assert s.char_accuracy() >= 0.88, detail
    assert s.false_positives <= 1, detail


def test_most_lines_are_read_exactly_apart_from_spaces(readings, scenes):
    s = score(scenes, readings("onnxruntime"))
    exact = [t.replace(" ", "") == (r or "").replace(" ", "") for t, r in zip(s.truth, s.read)]
    assert sum(exact) >= 24, list(zip(s.truth, s.read))  # measured 26/27


@pytest.mark.parametrize("bg", ["grass", "brick"])
def test_no_text_in_a_photo_without_text(reader, bg):
    # measured: nothing on grass or brick at 640x480 and 1280x720; the bound allows one stray line
    for size in [(640, 480), (1280, 720)]:
        result = reader("onnxruntime")(no_text_frame(bg, size))
        assert len(result) <= 1, result.text
