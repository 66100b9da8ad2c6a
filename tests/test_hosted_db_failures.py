"""Database failures are clear and counted (issue 13, item 12): a corrupt, read-only, full or locked database
is a `StoreError` in plain words (from the store and from `Manager.submit`, never sqlite3.*) and a readable
page; usage rows the writer could not write are counted and shown on Home; a streamed attempt is recorded
when it starts, so a process `kill -9`ed mid-stream still leaves its row. Real SQLite failures only (chosen
to work as root, which ignores file permissions), the real local OpenAI-compatible server, AppTest."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.agent.manager import Manager
from core.app.services import ServiceRoot
from core.errors import StoreError
from core.llm.router import Router
from core.store import Store
from tests.fake_openai import Reply

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "Home.py")
QUICK = "What's 2+2?"


def config(fake, **router) -> dict:
    return {**({"router": router} if router else {}),
            "alpha": {"url": fake.url, "api_key": "k", "models": ["fake/small"]}}


def wait_until(predicate, timeout: float = 30.0, step: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("condition not met in time")


def corrupt(path: str) -> None:
    """A database file whose header is overwritten: what a torn copy or a bad disk leaves behind."""
    store = Store(path)
    store.create_task(prompt="before the damage")
    store.close()
    store.db().conn.execute("pragma wal_checkpoint(TRUNCATE)")
    store.db().conn.close()
    for suffix in ("-wal", "-shm"):
        Path(path + suffix).unlink(missing_ok=True)
    with open(path, "r+b") as f:
        f.write(b"this is not a database header" * 4)


@pytest.fixture
def manager(fake, db_path):
    fake.default = Reply()
    m = Manager(Router.from_config(config(fake), db=db_path))
    yield m
    m.shutdown(2.0)


def test_a_corrupt_database_is_a_store_error_in_plain_words(db_path, fake):
    corrupt(db_path)
    with pytest.raises(StoreError) as caught:
        Store(db_path)
    assert caught.value.kind == "corrupt"
    assert "corrupt" in str(caught.value) and db_path in str(caught.value) and "What to do" in str(caught.value)
    with pytest.raises(StoreError):
        Router.from_config(config(fake), db=db_path)


def test_manager_submit_raises_a_store_error_when_the_database_is_read_only(manager):
    manager.store.db().conn.execute("pragma query_only = ON")      # this thread's connection may only read
    try:
        with pytest.raises(StoreError) as caught:
            manager.submit(QUICK, session="visitor")
    finally:
        manager.store.db().conn.execute("pragma query_only = OFF")
    assert not isinstance(caught.value, sqlite3.Error)
    assert caught.value.kind == "read_only" and "read-only" in str(caught.value)
    assert manager.store.health().last_error == str(caught.value)


def test_manager_submit_raises_a_store_error_when_the_disk_is_full(manager):
    conn = manager.store.db().conn
    pages = conn.execute("pragma page_count").fetchone()[0]
    conn.execute(f"pragma max_page_count = {pages}")                # the file may not grow: a full disk
    with pytest.raises(StoreError) as caught:
        manager.submit("Summarise this: " + "lorem ipsum " * 20_000, session="visitor")
    assert caught.value.kind == "disk_full" and "disk is full" in str(caught.value)


def test_a_locked_database_is_named_as_locked(db_path):
    store = Store(db_path)
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")                                # another process holds the write lock
    try:
        store.db().conn.execute("pragma busy_timeout = 0")            # don't wait the usual 30 s for it
        with pytest.raises(StoreError) as caught:
            store.create_task(prompt="hi")
        assert caught.value.kind == "locked" and "locked by another process" in str(caught.value)
    finally:
        holder.execute("ROLLBACK")


# A router whose process may not grow any file (RLIMIT_FSIZE, which binds root too): its usage rows fail.
FULL_DISK_PROCESS = """
import json, os, resource, signal, sys
sys.path.insert(0, sys.argv[1])
from core.errors import StoreError
from core.llm.router import Router
db, url = sys.argv[2:4]
router = Router.from_config({"alpha": {"url": url, "api_key": "k", "models": ["fake/small"]}}, db=db)
router.store.flush()
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))
answers = [router.chat([{"role": "user", "content": f"hi {i}"}]).text for i in range(3)]
router.store.flush()
try:
    router.store.create_task(prompt="x" * 100_000)
    submit_error = None
except StoreError as e:
    submit_error = {"kind": e.kind, "text": str(e)}
health = router.store.health()
print(json.dumps({"answers": answers, "lost_rows": health.lost_rows, "lost_by_kind": health.lost_by_kind,
                  "message": health.message, "submit_error": submit_error}), flush=True)
"""


def test_usage_rows_lost_to_a_full_disk_are_counted_and_the_requests_still_answer(fake, db_path):
    out = subprocess.run([sys.executable, "-B", "-c", FULL_DISK_PROCESS, str(ROOT), db_path, fake.url],
                         capture_output=True, text=True, timeout=60)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(report["answers"]) == 3 and all(report["answers"])
    assert report["lost_rows"] == 3 and sum(report["lost_by_kind"].values()) == 3
    assert "3 usage row(s) could not be written" in report["message"]
    assert report["submit_error"] and "disk" in report["submit_error"]["text"]


# A process streaming one answer through the router; it prints the request id after the first chunk.
STREAM_PROCESS = """
import sys, time
sys.path.insert(0, sys.argv[1])
from core.llm.router import Router
db, url = sys.argv[2:4]
router = Router.from_config({"alpha": {"url": url, "api_key": "k", "models": ["fake/small"]}}, db=db)
stream = router.stream([{"role": "user", "content": "Tell me a long story"}], task_id="t-killed")
for i, chunk in enumerate(stream):
    if i == 0:
        print(stream.request_id, flush=True)
"""


def test_a_stream_killed_mid_answer_leaves_a_usage_row_that_recovery_marks_interrupted(fake, db_path):
    fake.default = Reply(chunk_delay=0.1)
    store = Store(db_path)
    proc = subprocess.Popen([sys.executable, "-c", STREAM_PROCESS, str(ROOT), db_path, fake.url],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        request_id = proc.stdout.readline().strip()
        assert request_id, "the streaming process printed no request id"
        wait_until(lambda: store.usage_rows(request_id=request_id))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    (row,) = store.usage_rows(request_id=request_id)
    assert row["outcome"] == "started" and row["streamed"] == 1 and row["provider"] == "alpha"
    assert row["task_id"] == "t-killed" and row["attempt"] == 1
    summary = store.summary(time.time() - 3600)
    assert summary["in_flight"] == 1 and summary["errors"] == 0 and summary["error_rate"] == 0.0

    # A manager starting later (a deadline of 0.2 s after the attempt began) reads it as an interrupted attempt.
    manager = Manager(Router.from_config(config(fake, deadline=0.2), db=db_path), lease_s=0.2, heartbeat_s=0.05)
    try:
        wait_until(lambda: store.usage_rows(request_id=request_id)[0]["outcome"] == "stream_error")
    finally:
        manager.shutdown(2.0)
    assert "stopped before it ended" in store.usage_rows(request_id=request_id)[0]["error"]
    assert store.summary(time.time() - 3600)["errors"] == 1


def test_a_streamed_attempt_is_recorded_as_it_starts_and_completed_in_place(fake, db_path):
    fake.default = Reply(chunk_delay=0.01)
    router = Router.from_config(config(fake), db=db_path)
    stream = router.stream([{"role": "user", "content": "hi"}])
    chunks = iter(stream)
    assert next(chunks)
    router.store.flush()
    (started,) = router.store.usage_rows(request_id=stream.request_id)
    assert started["outcome"] == "started" and started["latency_ms"] is None
    assert stream.text()
    router.store.flush()
    (row,) = router.store.usage_rows(request_id=stream.request_id)     # one row per attempt, not two
    assert row["id"] == started["id"] and row["outcome"] == "ok" and row["latency_ms"] is not None


# ---------------------------------------------------------------------- pages


@pytest.fixture
def app_dir(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)                 # no agentic-config.* from the checkout
    st.cache_resource.clear()
    yield tmp_path
    st.cache_resource.clear()


def texts(at: AppTest) -> str:
    return "\n".join(str(x.value) for x in [*at.error, *at.warning, *at.caption, *at.markdown])


@pytest.mark.parametrize("page", ["pages/overview.py", "pages/chat.py", "pages/metrics.py"])
def test_pages_show_a_readable_message_on_a_corrupt_database(app_dir, page):
    corrupt(os.environ["SPACES_OS_DB"])
    at = AppTest.from_file(APP, default_timeout=30).run()
    if page != "pages/overview.py":
        at.switch_page(page).run()
    assert not at.exception, at.exception
    shown = texts(at)
    assert "The database is not working" in shown and "corrupt" in shown and "What to do" in shown


def test_home_shows_lost_usage_rows(app_dir):
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception and "usage row(s) could not be written" not in texts(at)
    store = ServiceRoot.shared().current().store
    # A real failed write: the writer's transaction is refused by SQLite (NOT NULL), and its rows are lost.
    store.record_attempts([{"request_id": "r1", "ts": time.time(), "provider": None, "attempt": 1,
                            "outcome": "ok"}], wait=True)
    at.run()
    assert not at.exception, at.exception
    assert "1 usage row(s) could not be written" in "\n".join(w.value for w in at.warning)
