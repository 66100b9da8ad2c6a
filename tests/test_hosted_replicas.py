"""Tasks any replica can carry on (issue 17): managers in separate processes on one database (a SQLite file
and PostgreSQL). A replica killed with SIGKILL mid-answer leaves its task to another, which continues it
from the checkpoint to the exact text with nobody pressing Resume; a task on a visitor's own keys waits,
paused with a reason, until a process holds that visitor's keys; and a queued task one process wrote is
run by exactly one other process's worker. The real local OpenAI-compatible server's deterministic model
continues a partial answer exactly, so "the exact text" is checkable."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from core.agent.manager import Manager, waiting_reason
from core.app.session import SessionContext
from core.app.tasks import TaskService
from core.app.views.routing import plain_words
from core.app.views.task_story import task_story
from core.llm.keys import session_hash
from core.llm.router import Router
from core.store import Store
from tests.backends import dump
from tests.conftest import SENTINEL_KEY
from tests.fake_openai import Reply, model_answer

ROOT = Path(__file__).resolve().parents[1]
COMPLEX = "Write a detailed report comparing GPU cloud pricing across three providers, with a plan."
FULL = model_answer([{"role": "user", "content": COMPLEX}])
KEYS = {"alpha": SENTINEL_KEY}


def wait_until(predicate, timeout: float = 30.0, step: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("condition not met in time")


class Replica:
    """tests/replica_process.py in its own process: its owner id, and the ids of the tasks it submitted."""

    def __init__(self, db: str, url: str, *prompts: str, keys: dict | None = None, workers: int = 2):
        env = {**os.environ, "PYTHONPATH": str(ROOT), "REPLICA_WORKERS": str(workers),
               "REPLICA_KEYS": json.dumps(keys or {})}
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "replica_process.py"), db, url, *prompts],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        word, self.owner = self.proc.stdout.readline().split()
        assert word == "owner", "the replica process did not start"
        self.tasks = [self.proc.stdout.readline().split()[1] for _ in prompts]

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


@pytest.fixture
def replicas(fake, db_url):
    fake.default = Reply(chunk_delay=0.03)
    started: list[Replica] = []

    def start(*prompts: str, **kw) -> Replica:
        started.append(Replica(db_url, fake.url, *prompts, **kw))
        return started[-1]

    yield start
    for r in started:
        r.kill()


@pytest.fixture
def store(db_url):
    s = Store(db_url)
    yield s
    s.close()


@pytest.fixture
def survivor(fake, db_url):
    """A manager in this process (the test's own), beside the replica processes."""
    managers: list[Manager] = []

    def start() -> Manager:
        managers.append(Manager(Router.from_config({"alpha": {"url": fake.url, "api_key": "k",
                                                               "models": ["fake/small"]}}, db=db_url),
                                lease_s=1.0, heartbeat_s=0.1))
        return managers[-1]

    yield start
    for m in managers:
        m.shutdown(2.0)
        m.store.close()


def kinds(store: Store, task_id: str) -> list[str]:
    return [e["kind"] for e in store.events(task_id=task_id)]


def mid_answer(store: Store, task_id: str, owner: str) -> dict:
    """Wait until `owner` streams the task and has checkpointed some of its text."""
    return wait_until(lambda: (row := store.get_task(task_id))["status"] == "running" and row["owner"] == owner
                      and len((row["checkpoint"] or {}).get("partial_text", "")) > 20 and row)


def test_a_replica_killed_mid_answer_leaves_its_task_to_another_process_which_finishes_the_exact_text(
        replicas, store, fake):
    b = replicas()                                           # the survivor, in its own process
    a = replicas(COMPLEX)
    (task_id,) = a.tasks
    assert store.get_task(task_id)["key_source"] == "shared"
    mid_answer(store, task_id, a.owner)
    a.kill()                                                 # kill -9: no shutdown, no checkpoint, no lease given up
    done = wait_until(lambda: (row := store.get_task(task_id))["status"] in ("done", "failed", "paused") and row)
    assert done["status"] == "done" and done["result"] == FULL and done["owner"] == b.owner
    events = store.events(task_id=task_id)
    recovered = next(e for e in events if e["kind"] == "recovered")
    resumed = next(e for e in events if e["kind"] == "resumed")
    assert recovered["data"]["carried_on"] and recovered["data"]["previous_owner"] == a.owner
    assert resumed["data"]["partial_chars"] == recovered["data"]["partial_chars"] > 20
    # The done event follows the status by one write: wait for it rather than read it once.
    assert wait_until(lambda: (ks := kinds(store, task_id))[-1] == "done" and ks)
    assert [k for k in kinds(store, task_id) if k in ("started", "paused", "done")] == ["started", "started", "done"]
    # B continued A's text (the partial answer went back as an assistant turn), it did not start over.
    continued = [r.body["messages"][-1] for r in fake.requests if r.body and r.body["messages"][-1]["role"] == "assistant"]
    assert continued and FULL.startswith(continued[-1]["content"]) and len(continued[-1]["content"]) > 20


def test_a_task_on_the_visitors_own_keys_waits_with_a_reason_until_the_visitor_gives_keys_here(
        replicas, store, survivor, fake):
    b = survivor()                                           # holds no keys of the visitor
    a = replicas(COMPLEX, keys=KEYS)
    (task_id,) = a.tasks
    assert store.get_task(task_id)["key_source"] == "byok"
    mid_answer(store, task_id, a.owner)
    a.kill()
    paused = wait_until(lambda: (t := b.get(task_id)).status == "paused" and t)
    time.sleep(3 * b.heartbeat_s)                            # B's later sweeps leave it paused: it has no keys
    assert b.get(task_id).status == "paused"
    recovered = [e for e in store.events(task_id=task_id) if e["kind"] == "recovered"][-1]
    assert recovered["data"]["reason"] == waiting_reason("byok")
    assert "your own keys" in plain_words(recovered) and "resume it to continue" in plain_words(recovered)
    assert waiting_reason("byok") in task_story(store, paused).headline          # what the task card says
    requests_before = len(fake.requests)

    assert b.give_keys("visitor", KEYS) == [task_id]          # the visitor is back with their keys
    done = b.wait(task_id, timeout=30)
    assert done.status == "done" and done.result == FULL
    assert done.key_source == "byok"
    continuation = fake.requests[requests_before:]
    assert continuation and all(SENTINEL_KEY in r.headers["authorization"] for r in continuation)
    b.store.flush()
    assert [r["key_source"] for r in store.usage_rows(task_id=task_id) if r["outcome"] == "ok"][-1] == "byok"
    for table in ("tasks", "events", "usage"):
        assert SENTINEL_KEY not in str(dump(store, table))


def test_a_process_that_holds_the_visitors_keys_carries_their_task_on_by_itself(replicas, store, survivor):
    b = survivor()
    a = replicas(COMPLEX, keys=KEYS)
    (task_id,) = a.tasks
    b.give_keys("visitor", KEYS)                              # the visitor's other tab, on this replica
    mid_answer(store, task_id, a.owner)
    a.kill()
    done = b.wait(task_id, timeout=30)
    assert done.status == "done" and done.result == FULL
    assert "paused" not in [e["kind"] for e in store.events(task_id=task_id)]


def test_a_byok_task_is_never_claimed_by_a_replica_without_the_visitors_keys(replicas, store, survivor):
    """Queued on a visitor's keys by a process that then died: a replica lacking the keys pauses it, never runs it."""
    b = survivor()
    sess = session_hash("visitor")
    row = store.create_task(prompt=COMPLEX, session=sess, label="COMPLEX", status="queued", key_source="byok",
                            owner="gone:1:dead", lease_until=store.clock() - 1,
                            checkpoint={"messages": [{"role": "user", "content": COMPLEX}], "partial_text": ""})
    task = wait_until(lambda: (t := b.get(row["id"])).status != "queued" and t)
    assert task.status == "paused" and task.checkpoint["needs_keys"]
    assert "started" not in kinds(store, row["id"])


def test_the_visitors_chat_shows_the_waiting_task_and_it_continues_once_the_page_has_their_keys(store, survivor):
    """The Chat page's `restore` (tasks a stopped process interrupted, back in the visitor's Chat) gives the
    manager the session's keys: without keys the card shows the task paused with its reason; with them it
    continues, from its checkpoint, to the exact text."""
    partial = FULL[:40]
    row = store.create_task(prompt=COMPLEX, session=session_hash("visitor"), label="COMPLEX", status="running",
                            key_source="byok", owner="gone:1:dead", lease_until=store.clock() - 1,
                            checkpoint={"messages": [{"role": "user", "content": COMPLEX}], "partial_text": partial,
                                        "provider": "alpha", "model": "fake/small"})
    b = survivor()
    tasks = TaskService(SimpleNamespace(manager=b, store=b.store))
    keyless = SessionContext.ephemeral("visitor", hosted=True)
    restored = tasks.restore(keyless)
    assert [t.id for t in restored.in_chat] == [row["id"]] and not restored.continuing
    assert keyless.task_ids == [row["id"]]
    assert task_story(store, restored.in_chat[0]).headline.endswith(waiting_reason("byok"))
    with_keys = SessionContext.ephemeral("visitor", keys=KEYS, hosted=True)
    restored = tasks.restore(with_keys)
    assert [t.id for t in restored.continuing] == [row["id"]] and not restored.in_chat
    done = b.wait(row["id"], timeout=30)
    assert done.status == "done" and done.result == FULL


def test_a_queued_task_one_process_wrote_is_run_by_exactly_one_other_processs_worker(replicas, store, fake,
                                                                                    db_url):
    r1, r2 = replicas(), replicas()
    router = Router.from_config({"alpha": {"url": fake.url, "api_key": "k", "models": ["fake/small"]}}, db=db_url)
    writer = Manager(router, workers=0, lease_s=1.0, heartbeat_s=0.1)      # queues, never runs
    prompts = [f"Task {i}: write a detailed report comparing GPU cloud pricing, with a plan." for i in range(8)]
    try:
        ids = [writer.submit(p, session=f"visitor-{i}").id for i, p in enumerate(prompts)]
        finished = [wait_until(lambda t=t: (row := store.get_task(t))["status"] in ("done", "failed") and row)
                    for t in ids]
    finally:
        writer.shutdown(2.0)
        router.close()
    for prompt, row in zip(prompts, finished, strict=True):
        assert row["status"] == "done" and row["result"] == model_answer([{"role": "user", "content": prompt}])
        assert row["owner"] in (r1.owner, r2.owner)                       # never the writer
        assert kinds(store, row["id"]).count("started") == 1             # one worker ran it, once
    for task_id in ids:         # the replicas write usage rows in the background: wait until each has ended
        outcomes = wait_until(lambda t=task_id: (o := [r["outcome"] for r in store.usage_rows(task_id=t)])
                              and "started" not in o and o)
        assert outcomes == ["ok"]
    assert len(fake.requests) == len(prompts)
