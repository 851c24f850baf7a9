"""Stream faults with a real RTSP server (GStreamer's) killed and restarted mid-run."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from edgevid.pipeline.sources import LiveSource, Sampling

ROOT = Path(__file__).resolve().parents[2]
SYSTEM_PY = shutil.which("python3", path="/usr/bin:/usr/local/bin")


def _gst_available() -> bool:
    if not SYSTEM_PY:
        return False
    probe = "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer"
    return subprocess.run([SYSTEM_PY, "-c", probe], capture_output=True).returncode == 0


pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not _gst_available(), reason="GStreamer RTSP server not installed (.ci/run installs it)")]


@pytest.fixture(scope="module")
def frames_dir(tmp_path_factory):
    import cv2

    from tests.pipeline.conftest import moving_face_frames

    folder = tmp_path_factory.mktemp("rtsp")
    for i, f in enumerate(moving_face_frames(40)):
        cv2.imwrite(str(folder / f"frame{i:03d}.jpg"), f)
    return folder


class Server:
    def __init__(self, folder: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.folder, self.proc = folder, None
        self.url = f"rtsp://127.0.0.1:{self.port}/test"

    def start(self) -> Server:
        self.proc = subprocess.Popen([SYSTEM_PY, "-m", "edgevid.testing.rtsp_server", str(self.port), str(self.folder)],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                     env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert self.proc.stdout.readline().strip() == "ready"
        return self

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)


def take(it, n: int, timeout: float = 60.0) -> list:
    out, deadline = [], time.monotonic() + timeout
    while len(out) < n and time.monotonic() < deadline:
        out.append(next(it))
    return out


def test_source_reconnects_after_the_server_dies_and_leaks_nothing(frames_dir):
    server = Server(frames_dir).start()
    threads0 = threading.active_count()
    fds0 = len(os.listdir("/proc/self/fd"))
    src = LiveSource(server.url, Sampling(), reconnects=20, max_backoff=1.0)
    it = iter(src)
    assert len(take(it, 10)) == 10
    for _ in range(2):  # killed twice; each time back within a few seconds
        server.kill()
        time.sleep(1.0)
        server.start()
        t0 = time.monotonic()
        got = take(it, 10)
        assert len(got) == 10 and time.monotonic() - t0 < 20
    assert src.stats.reconnects >= 2
    src.close()
    server.kill()
    time.sleep(0.5)
    assert threading.active_count() <= threads0  # the reader thread ended
    assert len(os.listdir("/proc/self/fd")) <= fds0 + 2  # sockets and decoders released


def test_run_survives_a_server_restart_and_stops_cleanly_on_sigint(frames_dir, tmp_path):
    server = Server(frames_dir).start()
    out = tmp_path / "r.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "edgevid", "run", "motion", server.url, "--out", str(out)],
                            stderr=subprocess.PIPE, text=True)

    def lines() -> int:
        return len(out.read_text().splitlines()) if out.exists() else 0

    deadline = time.monotonic() + 60
    while lines() < 10 and time.monotonic() < deadline:
        time.sleep(0.2)
    server.kill()
    time.sleep(1.0)
    before = lines()
    server.start()
    deadline = time.monotonic() + 30
    while lines() < before + 10 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert lines() >= before + 10, "no frames after the server came back"
    assert proc.poll() is None  # still running: no crash
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    server.kill()
    assert proc.returncode == 0, err
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["frame"] for r in rows] == sorted(r["frame"] for r in rows)
