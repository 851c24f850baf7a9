"""Video sources: files, image folders and globs, cameras, RTSP/HTTP streams, with sampling and accounting.

Every source yields :class:`Frame` objects and keeps :class:`SourceStats`: a file loses nothing
(each frame is either processed or deliberately skipped, and counted), a live source reads into a
bounded buffer that drops the oldest frame, and every drop is counted.
"""

from __future__ import annotations

import collections
import glob
import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ConfigError, SourceCorruptError, SourceError, SourceUnreachableError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
LIVE = re.compile(r"^(rtsp|rtsps|rtmp|http|https|udp|tcp)://|^/dev/video\d+$|^\d+$")
#: explicit timeouts: OpenCV's FFmpeg backend otherwise waits 30 s on a dead host
OPEN_TIMEOUT_MS = 5000
READ_TIMEOUT_MS = 5000


@dataclass
class Frame:
    """One decoded frame: its 0-based ``index`` in the source, its ``time`` in seconds, BGR ``image``."""

    index: int
    time: float
    image: np.ndarray
    source: str


@dataclass
class SourceStats:
    """What happened to the source's frames."""

    read: int = 0
    yielded: int = 0
    skipped: int = 0
    dropped: int = 0
    reconnects: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class Sampling:
    """Which frames to keep: every ``stride``-th, at most ``fps`` per second, between ``start`` and ``end`` s."""

    fps: float | None = None
    stride: int = 1
    start: float = 0.0
    end: float | None = None

    def __post_init__(self) -> None:
        if self.stride < 1:
            raise ConfigError(f"--stride must be >= 1, got {self.stride}")
        if self.fps is not None and self.fps <= 0:
            raise ConfigError(f"--fps must be > 0, got {self.fps}")
        if self.end is not None and self.end <= self.start:
            raise ConfigError(f"--end ({self.end}) must be after --start ({self.start})")


class _Sampler:
    """Decides per frame whether to keep it; stateful for ``fps``."""

    def __init__(self, s: Sampling) -> None:
        self.s, self.next_t, self.kept = s, s.start, 0

    def keep(self, index: int, t: float) -> bool:
        s = self.s
        if t < s.start - 1e-9 or (s.end is not None and t >= s.end) or index % s.stride:
            return False
        if s.fps is not None:
            if t + 1e-9 < self.next_t:
                return False
            self.next_t += 1.0 / s.fps * max(1, int((t - self.next_t) * s.fps) + 1)
        return True

    def finished(self, t: float) -> bool:
        return self.s.end is not None and t >= self.s.end


class Source:
    """Base class: iterate for frames, read :attr:`stats`, call :meth:`close`."""

    name: str
    live = False

    def __init__(self, name: str, sampling: Sampling) -> None:
        self.name, self.sampling, self.stats = name, sampling, SourceStats()
        self._stop = threading.Event()

    def __iter__(self) -> Iterator[Frame]:
        raise NotImplementedError

    def stop(self) -> None:
        """Ask the source to end early (graceful shutdown)."""
        self._stop.set()

    def close(self) -> None:
        """Release the device or file."""
        self.stop()


def _capture(target: str | int):
    import cv2

    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, OPEN_TIMEOUT_MS, cv2.CAP_PROP_READ_TIMEOUT_MSEC, READ_TIMEOUT_MS]
    if isinstance(target, int):
        return cv2.VideoCapture(target, cv2.CAP_ANY, params)
    return cv2.VideoCapture(target, cv2.CAP_FFMPEG if "://" in target or os.path.isfile(target) else cv2.CAP_ANY,
                            params)


class FileSource(Source):
    """A video file, read frame by frame; a file that ends before its declared length is corrupt."""

    def __init__(self, path: str, sampling: Sampling) -> None:
        super().__init__(path, sampling)
        if not os.path.isfile(path):
            raise SourceUnreachableError(f"{path}: no such file")
        import cv2

        self.cap = _capture(path)
        if not self.cap.isOpened():
            raise SourceCorruptError(f"{path}: cannot be opened as video (corrupt, truncated or unsupported format)")
        self.fps = self.cap.get(cv2.CAP_PROP_FPS) or 25.0
        self.declared = int(self.cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)

    def __iter__(self) -> Iterator[Frame]:
        sampler, index = _Sampler(self.sampling), 0
        while not self._stop.is_set():
            t = index / self.fps
            if sampler.finished(t):
                break
            if not sampler.keep(index, t):
                # grab() demuxes and decodes without the colour conversion: skipped frames stay cheap
                if not self.cap.grab():
                    break
                self.stats.read += 1
                self.stats.skipped += 1
                index += 1
                continue
            ok, image = self.cap.read()
            if not ok:
                break
            self.stats.read += 1
            self.stats.yielded += 1
            yield Frame(index, t, image, self.name)
            index += 1
        ended_early = not self._stop.is_set() and not sampler.finished(index / self.fps)
        # Containers round their declared frame count; a shortfall beyond a couple of frames is damage.
        if ended_early and self.declared and index < self.declared - 2:
            raise SourceCorruptError(
                f"{self.name}: decoding stopped at frame {index} of {self.declared} (file truncated or corrupt)")
        if index == 0 and ended_early:
            raise SourceCorruptError(f"{self.name}: no frame could be decoded")

    def close(self) -> None:
        """Release the capture."""
        super().close()
        self.cap.release()


class ImageSequence(Source):
    """Image files in sorted order (a folder or a glob); a file that does not decode is corrupt."""

    def __init__(self, spec: str, sampling: Sampling) -> None:
        super().__init__(spec, sampling)
        if os.path.isdir(spec):
            files = sorted(str(p) for p in Path(spec).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        else:
            files = sorted(f for f in glob.glob(spec) if Path(f).suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise SourceUnreachableError(f"{spec}: no images found (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
        self.files = files
        self.fps = sampling.fps or 1.0  # an image sequence has no clock: frame i is at i seconds unless --fps

    def __iter__(self) -> Iterator[Frame]:
        import cv2

        sampler = _Sampler(Sampling(None, self.sampling.stride, self.sampling.start, self.sampling.end))
        for index, path in enumerate(self.files):
            if self._stop.is_set():
                break
            t = float(index)
            self.stats.read += 1
            if not sampler.keep(index, t):
                self.stats.skipped += 1
                continue
            image = cv2.imread(path, cv2.IMREAD_COLOR)
            if image is None:
                raise SourceCorruptError(f"{path}: cannot be decoded as an image")
            self.stats.yielded += 1
            yield Frame(index, t, image, self.name)


class LiveSource(Source):
    """A camera or network stream: a reader thread fills a bounded buffer that drops the oldest frame.

    A stream that drops or freezes (no frame within the read timeout) is reopened with capped
    exponential backoff, up to ``reconnects`` times; unreachable at the first open is an error at once.
    """

    live = True

    def __init__(self, spec: str, sampling: Sampling, buffer: int = 4, reconnects: int = 10,
                 max_backoff: float = 30.0) -> None:
        super().__init__(spec, sampling)
        self.target: str | int = int(spec) if spec.isdigit() else spec
        self.buffer: collections.deque[Frame] = collections.deque(maxlen=buffer)
        self.reconnects, self.max_backoff = reconnects, max_backoff
        self._cond = threading.Condition()
        self._done = False
        self._error: Exception | None = None
        self.cap = _capture(self.target)
        if not self.cap.isOpened():
            raise SourceUnreachableError(f"{spec}: cannot open (unreachable, refused or timed out after "
                                         f"{OPEN_TIMEOUT_MS / 1000:.0f} s)")
        self._thread = threading.Thread(target=self._reader, name=f"edgevid-src-{spec}", daemon=True)
        self._thread.start()

    def _reader(self) -> None:
        sampler, index, t0, attempts = _Sampler(self.sampling), 0, time.monotonic(), 0
        try:
            while not self._stop.is_set():
                ok, image = self.cap.read()
                if not ok:
                    if attempts >= self.reconnects:
                        raise SourceError(f"{self.name}: stream lost after {attempts} reconnect attempts")
                    delay = min(self.max_backoff, 0.5 * 2 ** attempts)
                    attempts += 1
                    self.stats.reconnects += 1
                    self.cap.release()
                    if self._stop.wait(delay):
                        break
                    self.cap = _capture(self.target)
                    continue
                attempts = 0
                t = time.monotonic() - t0
                self.stats.read += 1
                if not sampler.keep(index, t):
                    self.stats.skipped += 1
                else:
                    with self._cond:
                        if len(self.buffer) == self.buffer.maxlen:
                            self.stats.dropped += 1  # the deque drops the oldest on append
                        self.buffer.append(Frame(index, t, image, self.name))
                        self._cond.notify()
                index += 1
                if sampler.finished(t):
                    break
        except Exception as exc:  # handed to the consumer, which raises it in its own thread
            self._error = exc
        finally:
            with self._cond:
                self._done = True
                self._cond.notify_all()

    def __iter__(self) -> Iterator[Frame]:
        while True:
            with self._cond:
                while not self.buffer and not self._done:
                    self._cond.wait(0.2)
                if self.buffer:
                    frame = self.buffer.popleft()
                elif self._done:
                    break
            self.stats.yielded += 1
            yield frame
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        """Stop the reader and release the device."""
        super().close()
        self._thread.join(timeout=READ_TIMEOUT_MS / 1000 + 1)
        self.cap.release()


def open_source(spec: str, sampling: Sampling | None = None, **live_options) -> Source:
    """The right :class:`Source` for ``spec``: a URL, camera index or /dev/video*, a folder, a glob or a file."""
    sampling = sampling or Sampling()
    spec = str(spec)
    if LIVE.match(spec):
        return LiveSource(spec, sampling, **live_options)
    if os.path.isdir(spec) or any(ch in spec for ch in "*?["):
        return ImageSequence(spec, sampling)
    if Path(spec).suffix.lower() in IMAGE_SUFFIXES and os.path.isfile(spec):
        return ImageSequence(spec, sampling)
    return FileSource(spec, sampling)
