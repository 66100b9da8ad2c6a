"""Requests-a-minute limits counted in the database (core/store/admissions.py), on SQLite and PostgreSQL: one
admission per request, atomic across threads, Store instances and processes, so replicas sharing a database
cannot together pass a visitor's budget (core/llm/budget.py) or an access token's limit (RequestWindow)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from core.app.gateway.tokens import RequestWindow
from core.llm.budget import Budget, HostedSettings
from core.store import Store

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def store(db_url):
    s = Store(db_url)
    yield s
    s.close()


def test_admits_up_to_the_limit_then_refuses_with_the_wait(store):
    answers = [store.admit("v1", 3) for _ in range(4)]
    assert [a.admitted for a in answers] == [True, True, True, False]
    assert [a.count for a in answers] == [1, 2, 3, 3]
    assert len({a.ticket for a in answers[:3]}) == 3 and answers[3].ticket is None
    assert 0 < answers[3].retry_after_s <= 60
    assert store.admit("v2", 3).admitted                    # another subject has its own window
    assert store.admissions_in_window("v1") == 3


def test_release_uncounts_one_admission(store):
    first, second = store.admit("v1", 2), store.admit("v1", 2)
    assert not store.admit("v1", 2).admitted
    assert store.release_admission(first.ticket) is True
    assert store.release_admission(first.ticket) is False   # only once
    assert store.admit("v1", 2).admitted and second.admitted
    assert store.admissions_in_window("v1") == 2


def test_admissions_older_than_the_window_do_not_count_and_are_pruned(store):
    def add_old(n: int) -> None:
        old = store.clock() - 61
        with store.transaction() as tx:       # admissions from more than a minute ago
            for _ in range(n):
                tx.execute("INSERT INTO admissions (subject, ts) VALUES (?, ?)", ("v1", old))

    add_old(2)
    assert store.admissions_in_window("v1") == 0
    assert store.admit("v1", 1).admitted
    subjects = lambda: [r["subject"] for r in store.rows("SELECT subject FROM admissions")]   # noqa: E731
    assert subjects() == ["v1"]                  # the first admit of a process pruned the old ones
    add_old(3)
    assert store.prune_admissions() == 3         # later, at most once a minute, or on demand
    assert subjects() == ["v1"]


def test_two_stores_on_one_database_with_many_threads_admit_exactly_the_limit(db_url):
    stores = [Store(db_url), Store(db_url)]          # two replicas' stores
    admitted: list[int] = []
    gate = threading.Barrier(16)

    def work(store: Store) -> None:
        gate.wait()
        for _ in range(6):
            if store.admit("token:shared", 30).admitted:
                admitted.append(1)

    threads = [threading.Thread(target=work, args=(stores[i % 2],)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(admitted) == 30
    assert stores[0].admissions_in_window("token:shared") == 30
    for s in stores:
        s.close()


def test_budgets_of_two_replicas_hold_one_visitor_to_the_limit_together(db_url):
    """What a burst on two consoles did before: each counted its own requests in memory, so together they let
    through twice the limit."""
    settings = HostedSettings(enabled=True, requests_per_minute=5)
    stores = [Store(db_url), Store(db_url)]
    budgets = [Budget(s, settings) for s in stores]
    tickets: list[int] = []
    gate = threading.Barrier(12)

    def visit(budget: Budget) -> None:
        gate.wait()
        status, ticket = budget.acquire("visitor-hash")
        if status.ok:
            tickets.append(ticket)

    threads = [threading.Thread(target=visit, args=(budgets[i % 2],)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(tickets) == 5
    refused = budgets[1].status("visitor-hash")
    assert not refused.ok and refused.reason == "5 requests a minute on the shared keys"
    assert refused.requests_last_minute == 5
    budgets[0].release("visitor-hash", tickets[0])           # a request the visitor's own key answered
    assert budgets[1].acquire("visitor-hash")[0].ok
    for s in stores:
        s.close()


def test_a_tokens_request_window_is_shared_by_replicas(db_url):
    stores = [Store(db_url), Store(db_url)]
    windows = [RequestWindow(s) for s in stores]
    assert windows[0].admit("ab12", 2) is None and windows[1].admit("ab12", 2) is None
    wait = windows[0].admit("ab12", 2)
    assert wait is not None and 0 < wait <= 60
    assert windows[1].admit("cd34", 2) is None               # another token
    for s in stores:
        s.close()


CHILD = textwrap.dedent("""
    import sys, threading
    sys.path.insert(0, sys.argv[1])
    from core.store import Store
    url, mode, threads, tries = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    store = Store(url)
    if mode == "store":
        admit = lambda: store.admit("token:ci", 30).admitted
    elif mode == "budget":
        from core.llm.budget import Budget, HostedSettings
        budget = Budget(store, HostedSettings(enabled=True, requests_per_minute=30))
        admit = lambda: budget.acquire("visitor-hash")[0].ok
    else:       # a console access token's limit, checked where the HTTP API checks it
        from types import SimpleNamespace
        from core.app.gateway.auth import Caller
        from core.app.gateway.errors import ApiError
        from core.app.gateway.tokens import AccessToken
        grant = AccessToken("ci", "ci", ("chat",), (), 30, None, None, None)
        caller, svc = Caller("token", grant.identity, grant.scopes, grant=grant), SimpleNamespace(store=store)
        def admit():
            try:
                caller.admit_chat(svc)
            except ApiError as e:
                assert e.status == 429, e
                return False
            return True
    admitted = []
    gate = threading.Barrier(threads + 1)
    def work():
        gate.wait()
        admitted.extend(1 for _ in range(tries) if admit())
    workers = [threading.Thread(target=work) for _ in range(threads)]
    for w in workers:
        w.start()
    print("ready", flush=True)
    sys.stdin.readline()              # every process starts its burst at once
    gate.wait()
    for w in workers:
        w.join()
    store.close()
    print(len(admitted), flush=True)
""")


@pytest.mark.parametrize("mode", ["store", "budget", "token"])
def test_two_processes_with_many_threads_admit_exactly_the_limit(db_url, mode):
    """Two console processes × 8 threads × 8 tries on one database, limit 30: exactly 30 admitted."""
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, str(ROOT), db_url, mode, "8", "8"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        for p in procs:
            assert p.stdout.readline().strip() == "ready"
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        counts = [int(p.communicate(timeout=120)[0].strip()) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert sum(counts) == 30, counts
    store = Store(db_url)
    subject = "visitor-hash" if mode == "budget" else "token:ci"
    assert store.admissions_in_window(subject) == 30
    store.close()
