"""The audit log and the Space actions log: round trips, filters, newest first, limits."""

from __future__ import annotations

import pytest

from core.store import Store


@pytest.fixture
def store(db_url):
    s = Store(db_url)
    yield s
    s.close()
    s.close_connections()


def test_an_audit_entry_round_trips(store: Store):
    store.record_audit("key_set", session="s1", detail="openrouter")
    (entry,) = store.audit()
    assert {k: entry[k] for k in ("session", "kind", "detail")} == {"session": "s1", "kind": "key_set",
                                                                    "detail": "openrouter"}
    assert entry["ts"] > 0


def test_audit_filters_by_kind_newest_first_up_to_the_limit(store: Store):
    for kind, detail in [("key_set", "a"), ("space_created", "me/x"), ("key_cleared", "a"), ("key_set", "b")]:
        store.record_audit(kind, session="s1", detail=detail)
    assert [e["detail"] for e in store.audit(kinds=["key_set", "key_cleared"])] == ["b", "a", "a"]
    assert [e["kind"] for e in store.audit(limit=2)] == ["key_set", "key_cleared"]
    assert store.audit(kinds=["budget_exceeded"]) == []
    assert len(store.audit(kinds=[])) == 4           # an empty filter is no filter


def test_a_space_action_round_trips(store: Store):
    store.record_space_action(session="s1", space_id="me/demo", action="restart", outcome="error",
                              detail="403 from the Hub")
    (action,) = store.space_actions()
    assert {k: action[k] for k in ("session", "space_id", "action", "outcome", "detail")} == {
        "session": "s1", "space_id": "me/demo", "action": "restart", "outcome": "error", "detail": "403 from the Hub"}


def test_space_actions_filter_by_session_newest_first_up_to_the_limit(store: Store):
    for i, session in enumerate(["s1", "s2", "s1", "s1"]):
        store.record_space_action(session=session, space_id=f"me/{i}", action="create", outcome="ok")
    assert [a["space_id"] for a in store.space_actions(session="s1")] == ["me/3", "me/2", "me/0"]
    assert [a["space_id"] for a in store.space_actions(session="s1", limit=1)] == ["me/3"]
    assert [a["space_id"] for a in store.space_actions()] == ["me/3", "me/2", "me/1", "me/0"]
    assert store.space_actions(session="nobody") == []
