"""The events table (decision log): kinds checked, data decoded, filters, chronological order, limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.store import EventKind, Store
from tests.backends import dump


@pytest.fixture
def store(db_url):
    s = Store(db_url)
    yield s
    s.close()
    s.close_connections()


def test_an_event_round_trips_with_its_data_decoded(store: Store):
    first = store.log_event(EventKind.ROUTED, "QUICK → fast tier", task_id="t1",
                            data={"plan": ["demo"], "confidence": 0.9})
    second = store.log_event("done", "answered", task_id="t1")
    assert second > first
    routed, done = store.events(task_id="t1")
    assert (routed["id"], routed["kind"], routed["message"]) == (first, "routed", "QUICK → fast tier")
    assert routed["data"] == {"plan": ["demo"], "confidence": 0.9}
    assert done["kind"] == "done" and done["data"] == {}


def test_a_kind_outside_the_enum_is_refused_and_nothing_is_written(store: Store):
    with pytest.raises(ValueError):
        store.log_event("made_up", "x")
    assert store.events() == []


def test_data_that_is_not_json_is_stored_as_text(store: Store):
    store.log_event(EventKind.TOOL_CALL, "read a file", data={"path": Path("/tmp/x")})
    assert store.events()[0]["data"] == {"path": "/tmp/x"}


def test_events_filter_by_task_kind_and_time(store: Store):
    store.log_event(EventKind.CLASSIFIED, "a", task_id="t1")
    store.log_event(EventKind.ROUTED, "b", task_id="t2")
    store.log_event(EventKind.DONE, "c", task_id="t1")
    with store.transaction() as tx:
        tx.execute("UPDATE events SET ts = id * 10.0")
    assert [e["message"] for e in store.events(task_id="t1")] == ["a", "c"]
    assert [e["message"] for e in store.events(kinds=[EventKind.ROUTED, "done"])] == ["b", "c"]
    assert [e["message"] for e in store.events(since=20.0)] == ["b", "c"]
    assert [e["message"] for e in store.events(task_id="t1", kinds=["routed"])] == []


def test_the_limit_keeps_the_newest_events_in_the_order_they_happened(store: Store):
    for i in range(5):
        store.log_event(EventKind.STARTED, f"e{i}")
    assert [e["message"] for e in store.events(limit=2)] == ["e3", "e4"]
    assert [e["message"] for e in store.events()] == ["e0", "e1", "e2", "e3", "e4"]


def test_the_kind_column_holds_the_plain_value(store: Store):
    store.log_event(EventKind.FELL_BACK, "x")
    assert [row[2:4] for row in dump(store, "events")] == [(None, "fell_back")]     # (task_id, kind)
