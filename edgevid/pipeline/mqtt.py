"""MQTT event sink: QoS 1 through paho-mqtt, with a local spool for at-least-once delivery.

Every event is written to the spool first and leaves it only when the broker's PUBACK for it
arrives. Events produced while the broker is down wait in the spool, are sent on reconnect (paho
retries with a capped backoff), and survive a restart of this process: the next sink on the same
spool sends them. A subscriber may see an event twice after a reconnect; ``event_id`` de-duplicates.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from ..errors import ConfigError
from .sinks import Sink
from .spool import Spool


#: How long a PUBACK that arrived before publish() returned stays valid for settling its message.
EARLY_ACK_S = 5.0


def parse_address(address: str) -> tuple[str, int]:
    """``HOST[:PORT]`` -> (host, port); the port defaults to 1883."""
    host, _, port = address.rpartition(":") if ":" in address else (address, "", "1883")
    try:
        return host or "localhost", int(port)
    except ValueError:
        raise ConfigError(f"--mqtt {address!r}: expected HOST[:PORT]") from None


class MqttSink(Sink):
    """Publishes each record's ``events`` to ``{prefix}/{event type}`` at QoS 1."""

    def __init__(self, address: str, spool_path, prefix: str = "edgevid", client_id: str | None = None,
                 reconnect: tuple[float, float] = (1.0, 30.0), drain_timeout: float = 5.0) -> None:
        try:
            import paho.mqtt.client as mqtt
        except ImportError:
            raise ConfigError("--mqtt needs paho-mqtt: pip install 'edgevid[mqtt]'") from None
        self.host, self.port = parse_address(address)
        self.prefix, self.drain_timeout = prefix.rstrip("/"), drain_timeout
        self.spool = Spool(spool_path)
        self.inflight: dict[int, str] = {}  # paho message id -> event id, until PUBACK
        # PUBACKs that beat publish() returning their message id -> when they came. Only fresh ones count:
        # a stale one (a message paho resent itself after a reconnect) must not settle a later message
        # that reuses its id once ids wrap.
        self.early_acks: dict[int, float] = {}
        self.sending: set[str] = set()
        self.lock = threading.Lock()
        self.connected = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or "")
        self.client.reconnect_delay_set(*reconnect)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self.client.connect_async(self.host, self.port, keepalive=10)
        self.client.loop_start()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if not reason_code.is_failure:
            self.connected.set()
            self._drain()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        with self.lock:  # unacknowledged messages go again after the reconnect
            self.inflight.clear()
            self.early_acks.clear()
            self.sending.clear()

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        with self.lock:
            event_id = self.inflight.pop(mid, None)
            if event_id is None:
                now = time.monotonic()
                self.early_acks = {m: t for m, t in self.early_acks.items() if now - t < EARLY_ACK_S}
                self.early_acks[mid] = now
            else:
                self.sending.discard(event_id)
        if event_id is not None:
            self.spool.remove(event_id)

    def _drain(self) -> None:
        """Send every spooled event not already waiting for its PUBACK."""
        if not self.connected.is_set():
            return
        for event_id, topic, payload in self.spool.pending():
            with self.lock:
                if event_id in self.sending:
                    continue
                self.sending.add(event_id)
            # Never publish holding our lock: paho calls _on_publish holding its own message lock, which
            # publish() takes too, so the two orders would deadlock (seen under load). A PUBACK that comes
            # back before publish() returns is parked in early_acks and settled here.
            mid = self.client.publish(topic, payload, qos=1).mid
            with self.lock:
                acked = time.monotonic() - self.early_acks.pop(mid, -EARLY_ACK_S) < EARLY_ACK_S
                if acked:
                    self.sending.discard(event_id)
                else:
                    self.inflight[mid] = event_id
            if acked:
                self.spool.remove(event_id)

    def write(self, record: dict[str, Any], frame=None, result=None) -> None:
        """Spool, then send, each event of the record."""
        for event in record.get("events") or []:
            self.spool.add(event["event_id"], f"{self.prefix}/{event['type']}", event)
        self._drain()

    def flush(self) -> None:
        """Send what is spooled (delivery completes asynchronously)."""
        self._drain()

    def close(self) -> None:
        """Wait up to ``drain_timeout`` s for acknowledgements; whatever is left stays spooled for next time."""
        deadline = time.monotonic() + self.drain_timeout
        while len(self.spool) and time.monotonic() < deadline:  # also waits for a connection to come up
            self._drain()
            time.sleep(0.05)
        self.client.loop_stop()
        self.client.disconnect()
        self.spool.close()

