"""The pure post-processing pieces: input sizing, point order, unclip geometry and CTC decoding."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edgevid.errors import UnsupportedModelError
from edgevid_text import ctc, det_post, rec


@pytest.mark.parametrize(("hw", "limit", "expected"), [
    ((480, 640), 960, (480, 640)),
    ((720, 1280), 960, (544, 960)),
    ((1080, 1920), 960, (544, 960)),
    ((10, 3000), 960, (32, 960)),
])
def test_det_size_keeps_aspect_under_the_limit_in_multiples_of_32(hw, limit, expected):
    assert det_post.det_size(*hw, limit) == expected


def test_order_quad_starts_top_left_and_runs_clockwise():
    rect = ((100.0, 50.0), (80.0, 20.0), 10.0)
    pts = cv2.boxPoints(rect)
    for shift in range(4):
        q = det_post.order_quad(np.roll(pts, shift, axis=0))
        assert q[0, 0] < q[1, 0] and q[0, 1] < q[3, 1] and q[2, 0] > q[3, 0]


def test_unclip_grows_every_side_by_the_vatti_distance():
    (c, (w, h), a) = det_post._unclip(((0, 0), (100.0, 20.0), 0.0), 1.5)
    d = 100 * 20 * 1.5 / (2 * 120)  # area * ratio / perimeter
    assert (w, h) == pytest.approx((100 + 2 * d, 20 + 2 * d))


def test_boxes_from_map_finds_a_blob_in_source_pixels():
    prob = np.zeros((64, 96), np.float32)
    prob[20:30, 10:70] = 0.9  # a 60x10 text kernel on a 96x64 map of a 192x128 frame
    quads, scores = det_post.boxes_from_map(prob, (128, 192))
    assert quads.shape == (1, 4, 2) and scores[0] == pytest.approx(0.9, abs=0.05)
    x1, y1 = quads[0].min(axis=0)
    x2, y2 = quads[0].max(axis=0)
    # contours run through pixel centres: the kernel is 59x9 from (10, 20) to (69, 29)
    d = 59 * 9 * 1.5 / (2 * 68)  # unclip distance on the map, then x2 to source pixels
    assert (x1, y1, x2, y2) == pytest.approx(((10 - d) * 2, (20 - d) * 2, (69 + d) * 2, (29 + d) * 2), abs=0.5)


def test_weak_blobs_are_dropped_by_box_thresh():
    prob = np.zeros((64, 96), np.float32)
    prob[20:30, 10:70] = 0.4  # above the pixel threshold, below the box threshold
    assert len(det_post.boxes_from_map(prob, (64, 96))[0]) == 0


def test_tall_crops_are_turned_and_batches_fit_their_widest_crop():
    img = np.zeros((200, 200, 3), np.uint8)
    tall = rec.crop_quad(img, np.float32([[10, 10], [30, 10], [30, 110], [10, 110]]))
    assert tall.shape[:2] == (20, 100) and next(rec.batches([tall]))[1].shape == (1, 3, 48, 320)
    crops = [np.zeros((20, 100, 3), np.uint8), np.zeros((10, 200, 3), np.uint8), np.zeros((30, 30, 3), np.uint8)]
    (idx, x), = rec.batches(crops, batch_size=6)
    assert list(idx) == [2, 0, 1] and x.shape == (3, 3, 48, 960)  # 200/10 * 48 = 960 > 320
    assert x.min() >= -1 and x.max() <= 1


def test_greedy_decode_merges_repeats_and_drops_blanks():
    classes = ("", "a", "b", " ")
    steps = [1, 1, 0, 1, 2, 2, 3, 0, 2]  # a a _ a b b ' ' _ b -> "aab b"
    probs = np.full((1, len(steps), 4), 0.02, np.float32)
    for t, c in enumerate(steps):
        probs[0, t, c] = 0.9 if c else 0.94
    text, score = ctc.greedy_decode(probs, classes)[0]
    assert text == "aab b" and score == pytest.approx(0.9)
    assert ctc.greedy_decode(np.eye(4, dtype=np.float32)[[0, 0]][None], classes) == [("", 0.0)]


def test_decoder_refuses_a_dictionary_of_the_wrong_size():
    with pytest.raises(UnsupportedModelError):
        ctc.greedy_decode(np.zeros((1, 3, 5), np.float32), ("", "a", " "))


def test_dictionary_comes_from_the_model_metadata(real_model):
    from edgevid.models import store
    from edgevid_text.card import RECOGNIZER

    classes = ctc.charset(store.fetch(RECOGNIZER.reference))
    assert len(classes) == 6625 and classes[0] == "" and classes[-1] == " "
    assert {"E", "x", "7", "0"} <= set(classes)
