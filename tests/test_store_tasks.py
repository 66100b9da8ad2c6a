"""The tasks table: round trips with JSON fields decoded, compare-and-set updates, filters and order."""

from __future__ import annotations

import re
import threading
import time

import pytest

from core.store import Store
from tests.backends import dump, integrity_errors


@pytest.fixture
def store(db_url):
    s = Store(db_url)
    yield s
    s.close()
    s.close_connections()


def test_a_new_task_round_trips_with_its_json_fields_decoded(store: Store):
    task = store.create_task(prompt="Summarise this", session="s1", label="COMPLEX", confidence=0.8,
                             reasons=["long prompt", "asks for a summary"],
                             checkpoint={"partial_text": "So far", "messages": [{"role": "user", "content": "x"}]})
    assert re.fullmatch(r"[0-9a-f]{12}", task["id"])
    assert task["status"] == "queued" and task["created_at"] == task["updated_at"]
    assert task["reasons"] == ["long prompt", "asks for a summary"]
    assert task["checkpoint"]["messages"][0]["content"] == "x"
    assert store.get_task(task["id"]) == task


def test_unknown_fields_are_not_stored_and_the_id_can_be_given(store: Store):
    task = store.create_task(prompt="p", task_id="fixed-id", status="paused", api_key="sk-or-secret", id="other")
    assert task["id"] == "fixed-id" and task["status"] == "paused"
    assert "api_key" not in task
    assert "sk-or-secret" not in str(dump(store, "tasks"))


def test_a_task_id_is_unique(store: Store):
    store.create_task(prompt="p", task_id="t1")
    with pytest.raises(integrity_errors()):
        store.create_task(prompt="again", task_id="t1")
    assert store.get_task("t1")["prompt"] == "p"


def test_get_task_of_an_unknown_id_is_none(store: Store):
    assert store.get_task("nope") is None


def test_update_task_changes_columns_and_the_update_time(store: Store):
    task = store.create_task(prompt="p")
    assert store.update_task(task["id"], status="done", result="answer", checkpoint=None) is True
    done = store.get_task(task["id"])
    assert (done["status"], done["result"], done["checkpoint"]) == ("done", "answer", None)
    assert done["updated_at"] >= task["updated_at"] and done["created_at"] == task["created_at"]


def test_update_task_with_expect_status_refuses_a_wrong_status(store: Store):
    task = store.create_task(prompt="p", status="running")
    assert store.update_task(task["id"], status="paused", expect_status=["queued"]) is False
    assert store.get_task(task["id"]) == task                    # nothing changed, not even updated_at
    assert store.update_task(task["id"], status="paused", expect_status=("queued", "running")) is True
    assert store.get_task(task["id"])["status"] == "paused"
    # a second claim of the same transition loses: only one worker resumes a task
    assert store.update_task(task["id"], status="running", expect_status=["paused"]) is True
    assert store.update_task(task["id"], status="running", expect_status=["paused"]) is False


def test_update_task_of_an_unknown_id_is_false(store: Store):
    assert store.update_task("nope", status="done") is False


def test_a_checkpoint_given_as_json_text_is_stored_as_is(store: Store):
    task = store.create_task(prompt="p", checkpoint='{"partial_text": "hi"}')
    assert task["checkpoint"] == {"partial_text": "hi"}


def test_list_tasks_filters_by_session_and_status_newest_first(store: Store):
    ids = [store.create_task(prompt=f"p{i}", session=s, status=st, task_id=f"t{i}")["id"]
           for i, (s, st) in enumerate([("a", "done"), ("a", "running"), ("b", "paused"), ("a", "paused")])]
    assert [t["id"] for t in store.list_tasks()] == ids[::-1]
    assert [t["id"] for t in store.list_tasks(session="a")] == ["t3", "t1", "t0"]
    assert [t["id"] for t in store.list_tasks(statuses=["paused", "running"])] == ["t3", "t2", "t1"]
    assert [t["id"] for t in store.list_tasks(session="a", statuses=["paused"])] == ["t3"]
    assert [t["id"] for t in store.list_tasks(limit=2)] == ["t3", "t2"]


def test_list_tasks_breaks_a_creation_time_tie_by_insert_order(store: Store):
    for i in range(3):
        store.create_task(prompt="p", task_id=f"t{i}")
    with store.transaction() as tx:
        tx.execute("UPDATE tasks SET created_at = 1.0")
    assert [t["id"] for t in store.list_tasks()] == ["t2", "t1", "t0"]


def test_listed_tasks_have_their_json_fields_decoded(store: Store):
    store.create_task(prompt="p", reasons=["r"], checkpoint={"k": 1})
    (task,) = store.list_tasks()
    assert task["reasons"] == ["r"] and task["checkpoint"] == {"k": 1}


def test_replicas_claiming_the_queue_each_get_a_different_task_and_skip_live_leases(store: Store):
    first = store.create_task(prompt="first", key_source="shared")
    held = store.create_task(prompt="held by a live replica", owner="c", lease_until=store.clock() + 60,
                             key_source="shared")
    second = store.create_task(prompt="second", key_source="demo")
    claims = [store.claim_next_task(owner=o, lease_s=10) for o in ("a", "b", "a")]
    assert claims == [first["id"], second["id"], None]
    assert store.get_task(first["id"])["owner"] == "a" and store.get_task(second["id"])["owner"] == "b"
    assert store.get_task(first["id"])["status"] == "running"             # claimed is started: nobody else
    assert store.get_task(held["id"])["owner"] == "c"
    assert not store.claim_task(first["id"], owner="b", lease_s=10)
    assert store.claim_next_task(owner="b", lease_s=10, exclude=[second["id"]]) is None


def test_claiming_ones_own_task_waits_for_the_heartbeat_renewing_its_lease(store: Store):
    """The heartbeat's renewal holds the row for a moment; the submitting manager's claim waits for it
    and then wins, instead of finding the row locked and leaving a QUICK task queued with no answer."""
    task = store.create_task(prompt="quick", owner="a", lease_until=store.clock() + 10, key_source="shared")
    renewing = threading.Event()

    def heartbeat() -> None:
        with store.transaction() as tx:
            tx.execute("UPDATE tasks SET lease_until = ? WHERE owner = ? AND id = ?",
                       (store.clock() + 10, "a", task["id"]))
            renewing.set()
            time.sleep(0.3)

    beat = threading.Thread(target=heartbeat)
    beat.start()
    assert renewing.wait(5)
    assert store.claim_task(task["id"], owner="a", lease_s=10)
    beat.join()
    assert store.get_task(task["id"])["status"] == "running"
    assert not store.claim_task(task["id"], owner="b", lease_s=10)            # still only one winner


def test_a_task_on_a_sessions_own_keys_is_claimed_only_where_those_keys_are(store: Store):
    mine = store.create_task(prompt="byok, leased to a", session="s1", key_source="byok", owner="a",
                             lease_until=store.clock() + 60)
    orphan = store.create_task(prompt="byok, its replica died", session="s2", key_source="byok", owner="gone",
                               lease_until=store.clock() - 1)
    unknown = store.create_task(prompt="from before key sources were recorded", session="s2")
    assert store.claim_next_task(owner="b", lease_s=10) is None                  # b holds no keys of s1 or s2
    assert store.claim_next_task(owner="a", lease_s=10) is None                  # a's, but not queued for workers
    assert store.claim_next_task(owner="b", lease_s=10, held=[mine["id"]]) is None         # a's lease is live
    assert store.claim_next_task(owner="a", lease_s=10, held=[mine["id"]]) == mine["id"]   # a queued it for them
    assert store.claim_next_task(owner="b", lease_s=10, sessions=["s2"]) == orphan["id"]
    assert store.claim_next_task(owner="c", lease_s=10, sessions=["s2"]) == unknown["id"]
    assert store.get_task(orphan["id"])["owner"] == "b"


def test_the_queue_gives_quick_tasks_then_tasks_paused_before_then_the_oldest(store: Store):
    old = store.create_task(prompt="old complex", label="COMPLEX", key_source="shared")
    resumed = store.create_task(prompt="paused, then resumed", label="COMPLEX", key_source="shared")
    store.log_event("paused", "paused by the user", task_id=resumed["id"])
    quick = store.create_task(prompt="quick, taken over", label="QUICK", key_source="shared")
    claims = [store.claim_next_task(owner="a", lease_s=10) for _ in range(4)]
    assert claims == [quick["id"], resumed["id"], old["id"], None]


def test_tasks_of_several_sessions_are_listed_together(store: Store):
    a = store.create_task(prompt="a", session="s1")
    b = store.create_task(prompt="b", session="s2", status="paused")
    store.create_task(prompt="c", session="s3")
    assert {t["id"] for t in store.list_tasks(sessions=["s1", "s2"])} == {a["id"], b["id"]}
    assert [t["id"] for t in store.list_tasks(sessions=["s1", "s2"], statuses=["paused"])] == [b["id"]]
    assert store.list_tasks(sessions=[]) == []
