"""One owner per running task (issue 13, item 11): tasks carry an owner lease in the database, only the owner
writes a running task, and recovery takes over expired leases only. Two managers on one database (two
Router/Store instances); the real local OpenAI-compatible server, whose deterministic model continues a
partial answer exactly. Every test runs on a SQLite file and on PostgreSQL (issue 17: replicas on one
server, leases on the server's clock). A manager killed with SIGKILL in another process, and what the
others then do with its tasks: tests/test_hosted_replicas.py."""

from __future__ import annotations

import time

import pytest

from core.agent.manager import Manager
from core.llm.router import Router
from tests.fake_openai import Reply, model_answer

COMPLEX = "Write a detailed report comparing GPU cloud pricing across three providers, with a plan."
FULL = model_answer([{"role": "user", "content": COMPLEX}])

def config(fake) -> dict:
    return {"alpha": {"url": fake.url, "api_key": "k", "models": ["fake/small"]}}


def wait_until(predicate, timeout: float = 30.0, step: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("condition not met in time")


def kinds(manager: Manager, task_id: str) -> list[str]:
    return [e["kind"] for e in manager.store.events(task_id=task_id)]


@pytest.fixture
def managers(fake, db_url):
    """Manager A and a factory for manager B: each with its own Router and Store on the same database."""
    fake.default = Reply(chunk_delay=0.03)
    started: list[Manager] = []

    def start() -> Manager:
        m = Manager(Router.from_config(config(fake), db=db_url), lease_s=1.0, heartbeat_s=0.1)
        started.append(m)
        return m

    yield start
    for m in started:
        m.shutdown(2.0)
        m.store.close()
        m.store.close_connections()


def test_a_second_manager_never_touches_a_task_the_first_one_streams(managers):
    a = managers()
    task = a.submit(COMPLEX, session="visitor")
    wait_until(lambda: a.get(task.id).partial_text)          # A is mid-answer
    b = managers()                                           # B starts: its recovery must leave A's task alone
    time.sleep(1.5 * b.lease_s)                              # several of B's heartbeats and sweeps
    row = b.store.get_task(task.id)
    assert row["status"] == "running" and row["owner"] == a.owner_id
    assert "recovered" not in [e["kind"] for e in b.store.events(task_id=task.id)]
    done = a.wait(task.id, timeout=30)
    assert done.status == "done" and done.result == FULL


def test_a_manager_cannot_write_a_task_another_manager_owns(managers):
    a = managers()
    task = a.submit(COMPLEX, session="visitor")
    wait_until(lambda: a.get(task.id).partial_text)
    b = managers()
    assert not b.store.update_task(task.id, status="paused", checkpoint={"partial_text": "hijacked"},
                                   expect_owner=b.owner_id)
    assert not b.store.claim_task(task.id, owner=b.owner_id, lease_s=10)
    assert b.get(task.id).status == "running"
    done = a.wait(task.id, timeout=30)
    assert done.status == "done" and done.result == FULL


def test_pause_on_another_replica_pauses_the_task_where_it_runs_and_resume_finishes_the_exact_text(managers):
    """Any replica's worker may run a task, so the visitor's Pause lands on whichever replica serves their
    page: it asks the owner through the database, the owner stops at a chunk boundary and checkpoints."""
    a = managers()
    task = a.submit(COMPLEX, session="visitor")
    wait_until(lambda: a.get(task.id).partial_text)
    b = managers()
    paused = b.pause(task.id)
    assert paused.status == "paused", paused.status
    row = b.store.get_task(task.id)
    assert row["stop_request"] is None and FULL.startswith(row["checkpoint"]["partial_text"])
    assert 0 < len(row["checkpoint"]["partial_text"]) < len(FULL)
    wait_until(lambda: "paused" in kinds(b, task.id))          # the event is one write after the status
    b.resume(task.id)                                        # the shared key: any replica carries it on
    done = b.wait(task.id, timeout=30)
    assert done.status == "done" and done.result == FULL


def test_cancel_on_another_replica_cancels_the_task_where_it_runs(managers):
    a = managers()
    task = a.submit(COMPLEX, session="visitor")
    wait_until(lambda: a.get(task.id).partial_text)
    b = managers()
    cancelled = b.cancel(task.id)
    assert cancelled.status == "cancelled", cancelled.status
    time.sleep(3 * a.heartbeat_s)
    row = a.store.get_task(task.id)
    assert row["status"] == "cancelled" and row["stop_request"] is None
    assert 0 < len(row["checkpoint"]["partial_text"]) < len(FULL)


def test_a_stop_asked_of_a_replica_that_died_is_honoured_by_the_one_that_takes_the_task_over(managers):
    a = managers()
    task = a.submit(COMPLEX, session="visitor")
    wait_until(lambda: a.get(task.id).partial_text)
    a._beat_stop.set()                                       # A's heartbeat dies: it never reads the request
    a.store.request_stop(task.id, "cancelled")
    b = managers()                                           # takes the task over once A's lease runs out
    wait_until(lambda: b.get(task.id).status == "cancelled", timeout=10)
    wait_until(lambda: "cancelled" in kinds(b, task.id))       # the event is one write after the status
    assert "recovered" not in kinds(b, task.id)


def test_shutdown_gives_up_the_leases_so_a_new_manager_takes_over_at_once(managers):
    a = managers()
    task = a.submit(COMPLEX, session="visitor")
    wait_until(lambda: a.get(task.id).partial_text)
    a.shutdown(5.0)
    row = a.store.get_task(task.id)
    assert row["status"] == "paused" and row["owner"] is None and row["lease_until"] is None
    b = managers()
    b.resume(task.id)
    assert b.wait(task.id, timeout=30).result == FULL
