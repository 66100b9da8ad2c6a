"""One owner per running task (issue 13, item 11): tasks carry an owner lease in the database, only the owner
writes a running task, and recovery takes over expired leases only. Two managers on one database (two
Router/Store instances), one of them in a real subprocess that is `kill -9`ed mid-answer; the real local
OpenAI-compatible server, whose deterministic model continues a partial answer exactly. Every test runs on
a SQLite file and on PostgreSQL (issue 17: replicas on one server, leases on the server's clock)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.agent.manager import Manager
from core.llm.router import Router
from tests.fake_openai import Reply, model_answer

ROOT = Path(__file__).resolve().parents[1]
COMPLEX = "Write a detailed report comparing GPU cloud pricing across three providers, with a plan."
FULL = model_answer([{"role": "user", "content": COMPLEX}])

# A manager in its own process: submits the COMPLEX task, prints its id, then streams until killed.
MANAGER_PROCESS = """
import sys, time
sys.path.insert(0, sys.argv[1])
from core.agent.manager import Manager
from core.llm.router import Router
db, url, prompt = sys.argv[2:5]
router = Router.from_config({"alpha": {"url": url, "api_key": "k", "models": ["fake/small"]}}, db=db)
manager = Manager(router, lease_s=1.0, heartbeat_s=0.2)
print(manager.submit(prompt, session="visitor").id, flush=True)
time.sleep(600)
"""


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
    b.pause(task.id)
    b.cancel(task.id)                                        # B does not run it: nothing to stop, nothing written
    assert b.get(task.id).status == "running"
    done = a.wait(task.id, timeout=30)
    assert done.status == "done" and done.result == FULL


def test_a_killed_managers_task_is_taken_over_after_its_lease_expires_and_resumes_to_the_exact_text(
        managers, fake, db_url):
    proc = subprocess.Popen([sys.executable, "-c", MANAGER_PROCESS, str(ROOT), db_url, fake.url, COMPLEX],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        task_id = proc.stdout.readline().strip()
        assert task_id, "the manager process printed no task id"
        b = managers()                                       # B is already running when A dies
        wait_until(lambda: b.get(task_id).status == "running" and len(b.get(task_id).partial_text) > 20)
        owner_a = b.store.get_task(task_id)["owner"]
        assert owner_a and owner_a.split(":")[1] == str(proc.pid) and owner_a != b.owner_id
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        paused = wait_until(lambda: (t := b.get(task_id)).status == "paused" and t, timeout=30)
        partial = paused.checkpoint["partial_text"]
        assert partial and FULL.startswith(partial) and partial != FULL
        assert "recovered" in [e["kind"] for e in b.store.events(task_id=task_id)]
        b.resume(task_id)
        done = b.wait(task_id, timeout=30)
        assert done.status == "done" and done.result == FULL
        assert b.store.get_task(task_id)["owner"] == b.owner_id
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


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
