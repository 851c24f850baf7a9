"""The pure post-processing pieces: input sizing, point order, unclip geometry and CTC decoding."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edgevid.errors import UnsupportedModelError
from edgevid.vision import lines
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


def test_tall_crops_are_turned_and_each_crop_is_batched_at_its_own_width():
    img = np.zeros((200, 200, 3), np.uint8)
    tall = rec.crop_quad(img, np.float32([[10, 10], [30, 10], [30, 110], [10, 110]]))
    assert tall.shape[:2] == (20, 100) and next(rec.batches([tall]))[1].shape == (1, 3, 48, 320)
    crops = [np.zeros((20, 100, 3), np.uint8), np.zeros((10, 200, 3), np.uint8), np.zeros((30, 30, 3), np.uint8),
             np.zeros((10, 100, 3), np.uint8), np.zeros((20, 200, 3), np.uint8)]
    got = [(list(idx), x.shape) for idx, x in rec.batches(crops, batch_size=6)]
    # each crop at its own width (at least 320; 200/10 * 48 = 960), batched only with crops of that width
    assert got == [([0, 2], (2, 3, 48, 320)), ([3, 4], (2, 3, 48, 480)), ([1], (1, 3, 48, 960))]
    assert [list(idx) for idx, _ in rec.batches(crops, batch_size=1)] == [[0], [2], [3], [4], [1]]


def test_a_line_reads_the_same_whatever_else_is_in_the_frame():
    from skimage import data

    line = np.ascontiguousarray(data.astronaut()[300:330, 100:250, ::-1])
    alone = next(rec.batches([line]))[1][0]
    for others in ([np.zeros((10, 300, 3), np.uint8)], [np.zeros((30, 30, 3), np.uint8)] * 7):
        for idx, x in rec.batches([line] + others):
            if 0 in idx:
                np.testing.assert_array_equal(x[list(idx).index(0)], alone)
    assert alone.shape == (3, 48, 320) and alone.min() >= -1 and alone.max() <= 1


def test_windows_cover_a_long_crop_without_squeezing_it():
    crop = np.zeros((24, 500, 3), np.uint8)  # 1000 pixels wide at height 48
    crop[:, ::2] = 255
    wins = rec.windows(crop, 320)  # margins of 32
    # windows start every 320 - 2 * 32 = 256 pixels: 0, 256, 512, 768; the last reaches 1088 >= 1000
    assert wins.shape == (4, 3, 48, 320)
    line = rec._normalised(crop, 48, 1088)
    for k, w in enumerate(wins):
        np.testing.assert_array_equal(w, line[:, :, 256 * k : 256 * k + 320])
    short = np.zeros((24, 100, 3), np.uint8)
    np.testing.assert_array_equal(rec.windows(short, 320), next(rec.batches([short], width=320))[1])


def test_stitch_takes_each_step_from_the_window_that_sees_most_around_it():
    # a line of 136 steps, labelled by their index; window k reads steps [32k, 32k + 40) (8 pixels a step)
    line = np.eye(140, dtype=np.float32)[:136]
    line = np.pad(line, ((0, 8), (0, 0)))
    probs = np.stack([line[32 * k : 32 * k + 40] for k in range(4)])
    got = lines.stitch(probs, 320, margin=32)
    np.testing.assert_array_equal(got[:136], line[:136])
    assert len(got) == 3 * 32 + 40
    # a middle window gives only its middle: corrupt every window's margins but the outer ones
    probs[1:, :4] = probs[:-1, -4:] = 0
    np.testing.assert_array_equal(lines.stitch(probs, 320, margin=32)[:136], line[:136])


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
