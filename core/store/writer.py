"""The background usage writer: the router's hot path only appends a row to a deque.

    store.record_attempts(rows)     # returns at once; the rows are readable within about USAGE_LINGER s
    store.flush()                   # blocks until every row queued so far is written
    store.write_errors              # [] unless a batch failed: a lost write is reported, never silent
    store.lost_rows                 # how many rows those failures lost (by kind in store.health())
    store.close()                   # writes what is queued and stops the thread (also run at exit)

A row queued after close() starts a new writer. A streamed attempt is queued twice: once as it starts
(outcome `started`, so a process killed mid-stream still leaves its row) and once as it ends; the end row
completes the start row in place (core/store/usage.py's `_insert_usage`).
"""

from __future__ import annotations

import collections
import threading
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from core.store.usage import UsageRow, completes_a_start, usage_values

if TYPE_CHECKING:
    from core.store import Store

USAGE_LINGER = 0.1     # seconds the writer gathers rows before a transaction
BATCH_ROWS = 1000      # most rows in one transaction


class _Marker:
    """Placed in the row stream by flush() and close(): set once every row before it is written."""

    def __init__(self, stop: bool = False):
        self.done = threading.Event()
        self.stop = stop


class UsageWriter(threading.Thread):
    """Writes queued usage rows in batches; a row is visible to readers within about `linger` seconds.

    The request path only appends to a deque (no lock, no wake-up): the writer wakes every `linger`
    seconds, or at once for flush()/close(), and writes what has gathered in one transaction."""

    def __init__(self, store: Store, linger: float = USAGE_LINGER):
        super().__init__(name="usage-writer", daemon=True)
        self._store = weakref.proxy(store)      # the thread must not keep the Store alive
        self.rows: collections.deque = collections.deque()
        self.errors = store._write_errors
        self.linger = linger
        self.wake = threading.Event()
        self.running = True              # cheaper than is_alive() on every queued row

    def put(self, row: UsageRow | Mapping[str, Any] | _Marker) -> None:
        self.rows.append(row)

    def run(self) -> None:
        try:
            while self._write_batch():
                self.wake.wait(self.linger or None)
                self.wake.clear()
            self.running = False        # new rows now start a new writer...
            while self._write_batch() is False or self.rows:
                pass                    # ...and rows that raced the stop are still written here
        except ReferenceError:          # the Store was dropped without close(): nobody can read its rows
            pass
        finally:
            self.running = False

    def _write_batch(self) -> bool:
        """Write what is queued; False once a stop marker is reached."""
        while self.rows:
            batch, completions, markers = [], [], []
            while self.rows and len(batch) + len(completions) < BATCH_ROWS:
                item = self.rows.popleft()
                if isinstance(item, _Marker):
                    markers.append(item)
                    break                      # rows after a marker belong to the next batch
                try:
                    values = usage_values(item)
                except Exception as e:   # not a usage row: report it, keep the writer alive
                    self.errors.append(f"{type(e).__name__}: {e} (1 row)")
                    self._store._note_lost_rows(1, e)
                    continue
                (completions if completes_a_start(values) else batch).append(values)
            if batch or completions:
                try:
                    self._store._insert_usage(batch, completions)
                except Exception as e:  # a lost write must be visible and counted, not silent
                    self.errors.append(f"{type(e).__name__}: {e} ({len(batch) + len(completions)} rows)")
                    self._store._note_lost_rows(len(batch) + len(completions), e)
                else:
                    self._store._note_success()
            for marker in markers:
                marker.done.set()
                if marker.stop:
                    return False
        return True


class BackgroundWriting:
    """Mixed into `core.store.Store`: starts, flushes and stops its `UsageWriter`."""

    def _init_writer(self) -> None:
        self._writer: UsageWriter | None = None
        self._writer_lock = threading.Lock()
        self._write_errors: collections.deque[str] = collections.deque(maxlen=100)   # the latest failures

    def _ensure_writer(self) -> UsageWriter:
        writer = self._writer
        if writer is not None and writer.running:
            return writer
        if self._writer is None or not self._writer.is_alive():
            with self._writer_lock:
                if self._writer is None or not self._writer.is_alive():
                    self._writer = UsageWriter(self)
                    self._writer.start()
        return self._writer

    def flush(self) -> None:
        """Block until every usage row queued so far is written."""
        writer = self._writer
        if writer is not None and writer.is_alive():
            marker = _Marker()
            writer.put(marker)
            writer.wake.set()
            while not marker.done.wait(0.5):
                if not writer.is_alive():
                    break

    @property
    def write_errors(self) -> list[str]:
        return list(self._write_errors)

    def close(self) -> None:
        """Write what is queued and stop the writer (also runs at interpreter exit)."""
        writer = self._writer
        if writer is not None and writer.is_alive():
            writer.put(_Marker(stop=True))
            writer.wake.set()
            writer.join(timeout=10)
        self._writer = None
