"""Sources: exact frame accounting, sampling, folders and globs, typed errors for bad input."""

from __future__ import annotations

import socket

import pytest

from edgevid.errors import ConfigError, SourceCorruptError, SourceUnreachableError
from edgevid.pipeline.sources import FileSource, ImageSequence, LiveSource, Sampling, open_source


def indices(source) -> list[int]:
    return [f.index for f in source]


def test_file_yields_every_frame_in_order(video):
    src = open_source(str(video))
    assert isinstance(src, FileSource)
    assert indices(src) == list(range(40))
    assert (src.stats.read, src.stats.yielded, src.stats.skipped) == (40, 40, 0)


@pytest.mark.parametrize("sampling,expected", [
    (Sampling(stride=4), list(range(0, 40, 4))),
    (Sampling(fps=2.5), list(range(0, 40, 4))),           # 10 fps source -> every 4th frame
    (Sampling(start=1.0, end=2.0), list(range(10, 20))),  # seconds 1.0 <= t < 2.0
    (Sampling(fps=5, start=3.0), [30, 32, 34, 36, 38]),
])
def test_sampling_keeps_exact_frames_and_counts_the_rest(video, sampling, expected):
    src = open_source(str(video), sampling)
    assert indices(src) == expected
    # nothing is lost: every frame read was either yielded or deliberately skipped
    assert src.stats.yielded + src.stats.skipped == src.stats.read


def test_bad_sampling_is_a_config_error():
    with pytest.raises(ConfigError):
        Sampling(stride=0)
    with pytest.raises(ConfigError):
        Sampling(start=5, end=2)


def test_folder_and_glob_in_sorted_order(tmp_path, video):
    import cv2

    frames = [f.image for f in open_source(str(video), Sampling(stride=10))]
    for i, img in zip([3, 1, 2, 0], frames):  # written out of order on purpose
        cv2.imwrite(str(tmp_path / f"img_{i:03d}.png"), img)
    (tmp_path / "notes.txt").write_text("not an image")
    seq = open_source(str(tmp_path))
    assert isinstance(seq, ImageSequence)
    got = list(seq)
    assert [f.index for f in got] == [0, 1, 2, 3] and got[0].image.shape == frames[0].shape
    assert (got[3].image == frames[0]).all()  # img_003 holds the first frame written
    assert [f.index for f in open_source(str(tmp_path / "img_00[12].png"))] == [0, 1]


def test_missing_and_corrupt_inputs_are_typed(tmp_path, truncated):
    with pytest.raises(SourceUnreachableError):
        open_source(str(tmp_path / "nope.mp4"))
    with pytest.raises(SourceUnreachableError, match="no images"):
        open_source(str(tmp_path))
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00\x01garbage" * 500)
    with pytest.raises(SourceCorruptError):
        open_source(str(junk))
    src = open_source(str(truncated))
    got = []
    with pytest.raises(SourceCorruptError, match="truncated or corrupt"):
        for f in src:
            got.append(f.index)
    assert len(got) >= 10 and got == list(range(len(got)))  # the frames before the damage arrive


def test_unreachable_stream_fails_fast_with_the_explicit_timeout():
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    t0 = time.monotonic()
    with pytest.raises(SourceUnreachableError, match="cannot open"):
        LiveSource(f"rtsp://127.0.0.1:{port}/cam", Sampling())
    assert time.monotonic() - t0 < 20  # OpenCV's FFmpeg default would wait 30 s
