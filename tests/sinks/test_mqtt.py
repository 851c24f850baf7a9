"""MQTT delivery against a real Mosquitto broker that the tests start and kill: at-least-once, nothing lost."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import uuid

import pytest

MOSQUITTO = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")
pytestmark = pytest.mark.skipif(MOSQUITTO is None, reason="mosquitto is not installed (.ci/run installs it)")
paho = pytest.importorskip("paho.mqtt.client")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """A real mosquitto on 127.0.0.1:port, started and killed by the test."""

    def __init__(self, port: int, tmp) -> None:
        self.port, self.conf = port, tmp / f"mosquitto-{port}.conf"
        self.conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
        self.proc = None

    def start(self) -> Broker:
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.05)
        raise RuntimeError("mosquitto did not start")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)


class Subscriber:
    """Collects every event_id published under edgevid/#."""

    def __init__(self, port: int) -> None:
        import json

        self.ids: list[str] = []
        self.ready = False
        self.c = paho.Client(paho.CallbackAPIVersion.VERSION2)
        self.c.on_connect = lambda c, u, f, rc, p: c.subscribe("edgevid/#", qos=1)
        self.c.on_subscribe = lambda *a: setattr(self, "ready", True)
        self.c.on_message = lambda c, u, m: self.ids.append(json.loads(m.payload)["event_id"])
        self.c.reconnect_delay_set(0.1, 0.5)
        self.c.connect_async("127.0.0.1", port)
        self.c.loop_start()

    def wait_ready(self, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while not self.ready and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self.ready, "subscriber never subscribed"

    def wait_for(self, ids, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not set(ids) <= set(self.ids) and time.monotonic() < deadline:
            time.sleep(0.05)

    def stop(self) -> None:
        self.c.loop_stop()
        self.c.disconnect()


def events(n: int) -> list[dict]:
    return [{"event_id": str(uuid.uuid4()), "type": "line_cross", "time": i / 10, "source": "t"} for i in range(n)]


def test_broker_restart_loses_nothing(tmp_path):
    from edgevid.pipeline.mqtt import MqttSink

    port = free_port()
    broker = Broker(port, tmp_path).start()
    sub = Subscriber(port)
    sub.wait_ready()
    sink = MqttSink(f"127.0.0.1:{port}", tmp_path / "spool.sqlite", reconnect=(2.0, 4.0))
    assert sink.connected.wait(10)
    first, second = events(5), events(5)
    sink.write({"events": first})
    sub.wait_for([e["event_id"] for e in first])
    assert {e["event_id"] for e in first} <= set(sub.ids)
    broker.kill()
    sub.ready = False
    time.sleep(0.5)
    sink.write({"events": second})  # broker down: these wait in the spool
    assert len(sink.spool) == 5
    broker.start()  # same port; the subscriber reconnects (0.1 s) before the sink does (2 s)
    sub.wait_ready()
    sub.wait_for([e["event_id"] for e in second])
    assert {e["event_id"] for e in first + second} <= set(sub.ids)
    deadline = time.monotonic() + 10
    while len(sink.spool) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(sink.spool) == 0  # every PUBACK arrived, so nothing stays spooled
    sink.close()
    sub.stop()
    broker.kill()


PUBLISHER = textwrap.dedent("""
    import json, sys, time
    from edgevid.pipeline.mqtt import MqttSink
    sink = MqttSink(sys.argv[1], sys.argv[2], reconnect=(0.5, 1.0))
    sink.write({"events": json.loads(sys.argv[3])})
    print("spooled", len(sink.spool), flush=True)
    time.sleep(float(sys.argv[4]))
    sink.close()
""")


def test_a_crashed_publisher_delivers_its_spool_after_restart(tmp_path):
    port = free_port()
    broker = Broker(port, tmp_path)  # not started: the broker is down while events are produced
    evs = events(4)
    spool = tmp_path / "crash.sqlite"
    import json

    proc = subprocess.Popen([sys.executable, "-c", PUBLISHER, f"127.0.0.1:{port}", str(spool), json.dumps(evs), "60"],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "spooled 4"
    proc.send_signal(signal.SIGKILL)  # a crash: no close, no flush
    proc.wait(10)
    broker.start()
    sub = Subscriber(port)
    sub.wait_ready()
    proc = subprocess.run([sys.executable, "-c", PUBLISHER, f"127.0.0.1:{port}", str(spool), "[]", "0"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    sub.wait_for([e["event_id"] for e in evs])
    assert {e["event_id"] for e in evs} <= set(sub.ids)
    sub.stop()
    broker.kill()


def test_run_publishes_zone_events(tmp_path):
    import json

    from tests.pipeline.conftest import moving_face_frames, write_video

    port = free_port()
    broker = Broker(port, tmp_path).start()
    sub = Subscriber(port)
    sub.wait_ready()
    video = write_video(tmp_path / "v.mp4", moving_face_frames(40))
    zones = tmp_path / "z.json"
    zones.write_text(json.dumps({"lines": [{"name": "mid", "points": [[0.5, 0], [0.5, 1]]}], "normalized": True}))
    out = tmp_path / "r.jsonl"
    proc = subprocess.run([sys.executable, "-m", "edgevid", "run", "face", str(video), "--zones", str(zones),
                           "--mqtt", f"127.0.0.1:{port}", "--out", str(out), "--backend", "tflite", "-o", 'model="short"'],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    written = [e["event_id"] for line in out.read_text().splitlines() for e in json.loads(line).get("events", [])]
    assert len(written) == 1
    sub.wait_for(written)
    assert set(written) <= set(sub.ids)
    sub.stop()
    broker.kill()
