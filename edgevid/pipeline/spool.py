"""A durable outbox for events: SQLite in WAL mode, so an event survives crashes until it is acknowledged."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

from ..errors import SinkError


class Spool:
    """Events waiting for delivery, in arrival order. Safe to use from several threads."""

    def __init__(self, path: str | Path) -> None:
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")  # an acknowledged add is on disk, even on power loss
            self.db.execute("CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
                            "event_id TEXT UNIQUE NOT NULL, topic TEXT NOT NULL, payload TEXT NOT NULL)")
        except sqlite3.Error as exc:
            raise SinkError(f"cannot open the event spool {path}: {exc}") from exc
        self.path = path
        self.lock = threading.Lock()

    def add(self, event_id: str, topic: str, payload: dict[str, Any]) -> None:
        """Keep ``payload`` until :meth:`remove`; adding the same ``event_id`` twice keeps one."""
        with self.lock:
            self.db.execute("INSERT OR IGNORE INTO outbox (event_id, topic, payload) VALUES (?, ?, ?)",
                            (event_id, topic, json.dumps(payload, separators=(",", ":"))))

    def pending(self, limit: int = 1000) -> list[tuple[str, str, str]]:
        """Up to ``limit`` (event_id, topic, payload json) in arrival order."""
        with self.lock:
            return list(self.db.execute("SELECT event_id, topic, payload FROM outbox ORDER BY seq LIMIT ?", (limit,)))

    def remove(self, event_id: str) -> None:
        """Forget a delivered event."""
        with self.lock:
            self.db.execute("DELETE FROM outbox WHERE event_id = ?", (event_id,))

    def __len__(self) -> int:
        with self.lock:
            return int(self.db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def close(self) -> None:
        """Close the database (pending events stay on disk)."""
        with self.lock:
            self.db.close()
