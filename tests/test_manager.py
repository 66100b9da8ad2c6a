"""The manager agent end to end: the three demo scenarios (quick, complex, interruption with checkpoint
and resume) against a slow local streaming server and against the demo provider, restart recovery,
manual controls and 20 concurrent sessions."""

from __future__ import annotations

import threading
import time

import pytest

from core.agent.manager import Manager
from core.agent.rules import RulesError, load_rules, parse_rules_text
from core.errors import SpacesOSError
from core.llm.providers.demo import demo_answer
from core.llm.router import Router
from core.store import Store
from tests.fake_openai import Reply, Status, model_answer

QUICK = "What's 2+2?"
COMPLEX = "Write a detailed report comparing GPU cloud pricing across three providers, with a plan."


@pytest.fixture
def db_path(db_url: str) -> str:
    """Every test here runs on a SQLite file and on PostgreSQL (tests/backends.py)."""
    return db_url



def kinds(store: Store, task_id: str) -> list[str]:
    return [e["kind"] for e in store.events(task_id=task_id)]


def wait_until(predicate, timeout: float = 10.0, step: float = 0.01):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("condition not reached in time")


@pytest.fixture
def slow_router(fake, db_path):
    fake.default = Reply(chunk_delay=0.03)
    router = Router.from_config({"local": {"url": fake.url, "api_key": "k", "models": ["fake/one"]}}, db=db_path)
    yield router
    router.close()


@pytest.fixture
def manager(slow_router):
    m = Manager(slow_router)
    yield m
    m.shutdown(timeout=2)


# ---------------------------------------------------------------- scenario 1: a quick question

def test_quick_question_is_answered_before_submit_returns(manager, slow_router):
    task = manager.submit(QUICK, session="s1")
    assert task.label == "QUICK" and 0 <= task.confidence <= 1 and task.reasons
    assert task.status == "done" and task.result == model_answer([{"role": "user", "content": QUICK}])
    assert kinds(manager.store, task.id) == ["classified", "routed", "started", "done"]
    slow_router.store.flush()
    rows = slow_router.store.usage_rows(task_id=task.id)
    assert len(rows) == 1 and rows[0]["label"] == "QUICK" and rows[0]["outcome"] == "ok"


# ---------------------------------------------------------------- scenario 2: a complex task

def test_complex_task_returns_at_once_and_runs_in_the_background(manager):
    started = time.monotonic()
    task = manager.submit(COMPLEX, session="s2")
    assert time.monotonic() - started < 0.5 and task.label == "COMPLEX"
    assert task.status in ("queued", "running")
    wait_until(lambda: manager.get(task.id).status == "running")
    progress = wait_until(lambda: manager.get(task.id).partial_text)     # progress is written while it streams
    assert model_answer([{"role": "user", "content": COMPLEX}]).startswith(progress)
    done = manager.wait(task.id, timeout=15)
    assert done.status == "done" and done.result == model_answer([{"role": "user", "content": COMPLEX}])
    wait_until(lambda: kinds(manager.store, task.id)[-1] == "done")    # the event follows the status by one write
    assert kinds(manager.store, task.id) == ["classified", "routed", "started", "done"]


# ---------------------------------------------------------------- scenario 3: interruption

def test_quick_request_interrupts_complex_task_which_resumes_to_the_same_text(manager):
    long_task = manager.submit(COMPLEX, session="s3")
    wait_until(lambda: len(manager.get(long_task.id).partial_text) > 20)
    asked = time.time()
    quick, answer = manager.submit_streaming(QUICK, session="s3")
    first_chunk = next(answer)                     # the interruption happens before the quick answer starts
    paused = manager.get(long_task.id)
    assert paused.status == "paused"
    checkpoint = paused.checkpoint
    assert checkpoint["partial_text"] and checkpoint["provider"] == "local" and checkpoint["model"] == "fake/one"
    assert checkpoint["messages"] == [{"role": "user", "content": COMPLEX}]
    interrupted_at = next(e["ts"] for e in manager.store.events(task_id=long_task.id) if e["kind"] == "interrupted")
    assert interrupted_at - asked < 0.25                                   # paused within 250 ms

    quick_text = first_chunk + "".join(answer)
    assert quick_text == model_answer([{"role": "user", "content": QUICK}])
    assert manager.get(quick.id).status == "done"

    final = manager.wait(long_task.id, timeout=15)
    assert final.status == "done"
    assert final.result == model_answer([{"role": "user", "content": COMPLEX}])   # nothing lost or duplicated
    wait_until(lambda: kinds(manager.store, long_task.id)[-1] == "done")
    assert kinds(manager.store, long_task.id) == ["classified", "routed", "started", "interrupted", "checkpointed",
                                                  "auto_resume", "resumed", "started", "done"]


def test_interruption_sends_partial_text_back_as_assistant_turn(manager, fake):
    long_task = manager.submit(COMPLEX, session="s4")
    wait_until(lambda: len(manager.get(long_task.id).partial_text) > 10)
    manager.submit(QUICK, session="s4")
    manager.wait(long_task.id, timeout=15)
    continuation = [r.body for r in fake.chat_requests if r.body["messages"][-1]["role"] == "assistant"]
    assert len(continuation) == 1
    partial = continuation[0]["messages"][-1]["content"]
    assert len(partial) == manager.store.events(task_id=long_task.id, kinds=["resumed"])[0]["data"]["partial_chars"]
    assert model_answer([{"role": "user", "content": COMPLEX}]).startswith(partial)


def test_queue_policy_answers_after_the_running_task(slow_router):
    rules = load_rules()
    rules.interruption = "queue"
    manager = Manager(slow_router, rules)
    try:
        long_task = manager.submit(COMPLEX, session="s5")
        wait_until(lambda: manager.get(long_task.id).status == "running")
        manager.submit(QUICK, session="s5")
        assert manager.get(long_task.id).status == "done"                  # it was never paused
        assert "interrupted" not in kinds(manager.store, long_task.id)
    finally:
        manager.shutdown(2)


def test_other_sessions_are_not_interrupted(manager):
    long_task = manager.submit(COMPLEX, session="mine")
    wait_until(lambda: manager.get(long_task.id).status == "running")
    manager.submit(QUICK, session="someone-else")
    assert manager.get(long_task.id).status == "running"
    manager.wait(long_task.id, timeout=15)


# ---------------------------------------------------------------- the same scenarios on the demo provider

def test_demo_provider_interrupt_and_resume_gives_the_uninterrupted_text(db_path):
    router = Router.from_config({"demo": {"pace_ms": 8}}, db=db_path)
    manager = Manager(router)
    try:
        long_task = manager.submit(COMPLEX, session="demo")
        wait_until(lambda: len(manager.get(long_task.id).partial_text) > 50)
        quick = manager.submit(QUICK, session="demo")
        assert quick.result.strip().endswith("= 4.")
        assert "interrupted" in kinds(router.store, long_task.id)
        final = manager.wait(long_task.id, timeout=30)
        assert final.result == demo_answer([{"role": "user", "content": COMPLEX}])
        router.store.flush()
        assert {r["key_source"] for r in router.store.usage_rows(task_id=long_task.id)} == {"demo"}
    finally:
        manager.shutdown(2)


# ---------------------------------------------------------------- restart

def test_restart_resumes_a_paused_task_to_the_exact_full_text(fake, db_path):
    fake.default = Reply(chunk_delay=0.03)
    cfg = {"local": {"url": fake.url, "api_key": "k", "models": ["fake/one"]}}
    router = Router.from_config(cfg, db=db_path)
    manager = Manager(router)
    task = manager.submit(COMPLEX, session="r")
    wait_until(lambda: len(manager.get(task.id).partial_text) > 15)
    manager.shutdown(timeout=2)                        # graceful stop checkpoints the running task
    assert manager.get(task.id).status == "paused"
    router.close()

    router2 = Router.from_config(cfg, db=db_path)
    manager2 = Manager(router2)
    try:
        assert manager2.get(task.id).status == "paused"
        manager2.resume(task.id)
        final = manager2.wait(task.id, timeout=15)
        assert final.status == "done" and final.result == model_answer([{"role": "user", "content": COMPLEX}])
    finally:
        manager2.shutdown(2)


def test_tasks_running_when_the_process_died_come_back_paused(fake, db_path):
    store = Store(db_path)
    partial = model_answer([{"role": "user", "content": COMPLEX}])[:40]
    row = store.create_task(prompt=COMPLEX, status="running", label="COMPLEX",
                            checkpoint={"messages": [{"role": "user", "content": COMPLEX}], "partial_text": partial,
                                        "provider": "local", "model": "fake/one"})
    router = Router.from_config({"local": {"url": fake.url, "api_key": "k", "models": ["fake/one"]}}, db=db_path)
    manager = Manager(router)
    try:
        task = manager.get(row["id"])
        assert task.status == "paused" and task.checkpoint["partial_text"] == partial
        assert "recovered" in kinds(router.store, row["id"])
        manager.resume(row["id"])
        assert manager.wait(row["id"], 15).result == model_answer([{"role": "user", "content": COMPLEX}])
    finally:
        manager.shutdown(2)


# ---------------------------------------------------------------- manual controls and failures

def test_manual_pause_resume_and_cancel(manager):
    task = manager.submit(COMPLEX, session="m")
    wait_until(lambda: manager.get(task.id).partial_text)
    assert manager.pause(task.id).status == "paused"
    assert kinds(manager.store, task.id)[-2:] == ["paused", "checkpointed"]
    time.sleep(0.2)
    assert manager.get(task.id).status == "paused"                    # manual pauses do not auto-resume
    manager.resume(task.id)
    wait_until(lambda: manager.get(task.id).status == "running")
    assert manager.cancel(task.id).status == "cancelled"
    other = manager.submit(COMPLEX, session="m2")
    manager.pause(other.id)
    assert manager.cancel(other.id).status == "cancelled"


def test_failed_task_records_the_reason(fake, db_path):
    fake.default = Status(500, "boom")
    router = Router.from_config({"local": {"url": fake.url, "api_key": "k"}, "router": {"max_retries": 0}},
                                db=db_path)
    manager = Manager(router)
    try:
        task = manager.submit(QUICK, session="f")
        assert task.status == "failed" and "unavailable (HTTP 500)" in task.error
        assert kinds(router.store, task.id) == ["classified", "routed", "started", "attempt_failed", "failed"]
    finally:
        manager.shutdown(2)


def test_session_task_limit_is_enforced(manager):
    manager.rules.max_tasks_per_session = 2
    manager.submit(COMPLEX, session="lim")
    manager.submit(COMPLEX, session="lim")
    with pytest.raises(SpacesOSError, match="limit is 2"):
        manager.submit(COMPLEX, session="lim")


def test_urgent_prefers_the_fastest_healthy_provider(fake, fake_b, db_path):
    cfg = {"slow": {"url": fake.url, "api_key": "k"}, "fast": {"url": fake_b.url, "api_key": "k"}}
    router = Router.from_config(cfg, db=db_path)
    fake.default = Reply(delay=0.15)
    for _ in range(3):
        router.chat([{"role": "user", "content": "x"}], provider="slow")
        router.chat([{"role": "user", "content": "x"}], provider="fast")
    router.store.flush()
    manager = Manager(router)
    try:
        task = manager.submit("URGENT: production is down, users get 502 errors right now!", session="u")
        assert task.label == "URGENT" and task.provider == "fast"
        routed = router.store.events(task_id=task.id, kinds=["routed"])[0]
        assert routed["data"]["plan"][0]["provider"] == "fast"
    finally:
        manager.shutdown(2)


# ---------------------------------------------------------------- concurrency

def test_twenty_sessions_at_once_all_finish_without_lost_rows(fake, db_path):
    fake.default = Reply(chunk_delay=0.002)
    router = Router.from_config({"local": {"url": fake.url, "api_key": "k"}}, db=db_path)
    manager = Manager(router, workers=4)
    ids: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def session(i: int) -> None:
        try:
            task = manager.submit(COMPLEX if i % 2 else f"{QUICK} #{i}", session=f"c{i}")
            with lock:
                ids.append(task.id)
        except BaseException as e:   # noqa: BLE001 - collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=session, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    try:
        assert errors == [] and len(ids) == 20
        finals = [manager.wait(i, timeout=60) for i in ids]
        assert [t.status for t in finals] == ["done"] * 20
        router.store.flush()
        assert router.store.write_errors == []
        rows = router.store.usage_rows(limit=10_000)
        assert len(rows) == 20 and {r["task_id"] for r in rows} == set(ids)
        for task_id in ids:
            wait_until(lambda t=task_id: kinds(router.store, t)[-1] == "done")   # the event follows the status
            assert kinds(router.store, task_id)[:2] == ["classified", "routed"]
    finally:
        manager.shutdown(2)


# ---------------------------------------------------------------- routing rules

def test_shipped_routing_rules_are_valid_and_resolve_tiers(slow_router):
    rules = load_rules()
    configs = [p.config for p in slow_router.providers.values()]
    assert rules.models_for("QUICK", configs)["local"] == "fake/one"        # one named model serves every tier
    assert rules.models_for("COMPLEX", configs)["demo"] == "demo/deep-1"
    assert rules.models_for("QUICK", configs)["demo"] == "demo/quick-1"


def test_tier_favourite_missing_falls_back_to_provider_default(db_path):
    router = Router.from_config({"openrouter": {"api_key": "k", "models": ["meta/x", "meta/y"]}}, db=db_path)
    models = load_rules().models_for("COMPLEX", [p.config for p in router.providers.values()])
    assert models["openrouter"] == "meta/x"


@pytest.mark.parametrize("text,path", [
    ("tiers: {fast: {demo: [a]}}\nlabels: {QUICK: {tiers: [fast]}, COMPLEX: {tiers: [slow]}, URGENT: {tiers: [fast]}}",
     "labels.COMPLEX.tiers"),
    ("tiers: {fast: {demo: [a]}}\nlabels: {QUICK: {tiers: [fast]}, COMPLEX: {tiers: [fast]}, URGENT: {tiers: [fast]}}"
     "\ninterruption: sometimes", "interruption"),
    ("tiers: {fast: {demo: 3}}\nlabels: {}", "tiers.fast.demo"),
])
def test_invalid_routing_rules_name_the_key_path(text, path):
    with pytest.raises(RulesError) as info:
        parse_rules_text(text)
    assert info.value.path == path
