"""A background task's story without Streamlit: runs and pauses from its events, the whole task's figures
from its usage rows, the estimate from recent throughput, and the decision log in plain words."""

from __future__ import annotations

import time

import pytest

from core.agent.manager import Manager
from core.app.views.chat import facts_line, interruption_notes, reply_facts
from core.app.views.routing import decision_log, plain_words
from core.app.views.task_story import (
    DEFAULT_COMPLEX_TOKENS,
    Estimate,
    TaskStory,
    compact_markdown,
    estimate_from,
    headline,
    progress,
    progress_words,
    task_story,
    tier_estimate,
    timeline,
    timeline_bar,
    totals_line,
    usage_totals,
)
from core.llm.router import Router
from core.store import Store, UsageRow

QUICK = "What's 2+2?"
COMPLEX = "Write a detailed report comparing GPU cloud pricing across three providers, with a plan."


def ev(kind: str, ts: float, **data):
    return {"kind": kind, "ts": ts, "data": data, "message": "", "task_id": "t1"}


INTERRUPTED_THEN_DONE = [
    ev("classified", 0.0), ev("routed", 0.0), ev("started", 1.0),
    ev("interrupted", 3.0, interrupted_by="q1"), ev("checkpointed", 3.0, partial_chars=412),
    ev("auto_resume", 4.0, interrupted_by="q1"), ev("resumed", 4.5, partial_chars=412), ev("started", 4.5),
    ev("done", 8.5),
]


def wait_until(predicate, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.02)
    raise AssertionError("condition not reached in time")


# ---------------------------------------------------------------- pure pieces


def test_timeline_marks_the_interruption_between_two_runs():
    runs_and_pauses = timeline(INTERRUPTED_THEN_DONE)
    assert [(s.kind, s.start, s.end) for s in runs_and_pauses] == [("run", 1.0, 3.0), ("pause", 3.0, 4.5),
                                                                   ("run", 4.5, 8.5)]
    pause = runs_and_pauses[1]
    assert (pause.by, pause.why, pause.chars) == ("q1", "interrupted", 412)
    bar = timeline_bar(runs_and_pauses, now=9.0)
    assert [b["kind"] for b in bar] == ["run", "pause", "run"]
    assert bar[1]["label"] == "⏸ 1.5 s for task q1" and abs(sum(b["share"] for b in bar) - 1) < 1e-9


def test_a_paused_task_has_an_open_pause_and_says_for_whom_and_where():
    segments = timeline(INTERRUPTED_THEN_DONE[:5])
    assert segments[-1].kind == "pause" and segments[-1].end is None
    assert headline("paused", segments, 412).startswith("paused for task `q1` at 412 characters")


def test_a_task_waiting_for_the_visitors_keys_says_why_on_its_card_and_in_the_decision_log():
    reason = "it runs on your own keys, which lived in the console process that stopped"
    events = [{"kind": "started", "ts": 1.0, "data": {}},
              {"kind": "recovered", "ts": 5.0, "message": "was running when its manager stopped",
               "data": {"partial_chars": 412, "reason": reason}}]
    assert headline("paused", timeline(events), 412) == f"paused when the app stopped at 412 characters: {reason}"
    assert plain_words(events[1]) == f"The console process running this stopped; paused at 412 characters: {reason}."
    carried = {"kind": "recovered", "ts": 5.0, "message": "", "data": {"partial_chars": 412, "carried_on": True}}
    assert "another carries it on from its checkpoint at 412 characters" in plain_words(carried)
    keys_back = {"kind": "auto_resume", "ts": 6.0, "message": "", "data": {"keys_given": True}}
    assert plain_words(keys_back) == "You gave your own keys here again, so this one continues."


def test_headlines_say_resumed_done_in_parts_and_how_far_a_cancelled_task_got():
    resumed = timeline(INTERRUPTED_THEN_DONE[:8])
    assert headline("running", resumed, 500) == "resumed at 412 characters after task `q1`"
    assert headline("done", timeline(INTERRUPTED_THEN_DONE), 900) == "done in 2 parts (paused once)"
    cancelled = timeline([ev("started", 1.0), ev("cancelled", 2.0, partial_chars=830)])
    assert headline("cancelled", cancelled, 830) == "cancelled at 830 characters"
    assert headline("cancelled", [], 0) == "cancelled before it started"


def test_usage_totals_sum_every_part_and_leave_in_flight_attempts_out():
    rows = [{"outcome": "ok", "latency_ms": 2416.0, "ttft_ms": 180.0, "tokens_in": 30, "tokens_out": 94,
             "cost_usd": 0.001},
            {"outcome": "rate_limited", "latency_ms": 50.0, "tokens_out": None, "cost_usd": None},
            {"outcome": "ok", "latency_ms": 4011.0, "ttft_ms": 90.0, "tokens_in": 40, "tokens_out": 267,
             "cost_usd": 0.002},
            {"outcome": "started", "latency_ms": None, "tokens_out": None}]
    totals = usage_totals(rows)
    assert (totals.parts, totals.failed) == (2, 1)
    assert totals.latency_ms == 6427.0 and totals.tokens_out == 361 and totals.ttft_ms == 180.0
    assert totals.cost_usd == pytest.approx(0.003)
    assert totals_line(totals) == "2 parts · 6,427 ms (TTFT 180 ms) · 361 tokens out · $0.003000 · 1 failed attempt"
    assert totals_line(totals, count=False).startswith("6,427 ms (TTFT 180 ms)")


def test_estimate_is_a_range_around_the_tokens_over_the_recent_rate():
    est = estimate_from([20.0, 20.0, 20.0], 600, "basis")
    assert est.low_s <= 30 <= est.high_s and est.low_s >= 5 and est.high_s % 5 == 0
    assert est.words() == f"~{est.low_s} s–{est.high_s} s"
    assert estimate_from([], 600, "basis") is None


def test_progress_moves_with_running_time_and_is_full_only_when_done():
    est = Estimate(10, 30, "b")
    assert progress("running", 10, est) == 0.5
    assert progress("running", 1000, est) == 0.95
    assert progress("done", 1, None) == 1.0 and progress("running", 5, None) == 0.0
    story = TaskStory("t1", "running", "running", running_s=8, estimate=est)
    assert progress_words(story) == "running for 8 s · estimate ~10 s–30 s"


def test_report_headings_are_shrunk_for_a_card():
    assert compact_markdown("# Report\n\n## Summary\ntext #1") == "##### Report\n\n##### Summary\ntext #1"


def test_decision_log_events_read_in_plain_words_without_the_raw_threshold():
    classified = {"kind": "classified", "message": "COMPLEX (92%): complexity 0.72 vs threshold 0.41 (COMPLEX)",
                  "data": {"label": "COMPLEX", "confidence": 0.92,
                           "reasons": ["complexity 0.72 vs threshold 0.41 (COMPLEX)", "task verb: 'plan'"]}}
    words = plain_words(classified)
    assert words == "Looks like long work, run in the background (92% sure). Why: task verb: 'plan'."
    assert "threshold" not in words
    assert plain_words({"kind": "interrupted", "message": "paused for task q1",
                        "data": {"interrupted_by": "q1"}}) == "Paused so task q1 could answer first."
    assert plain_words({"kind": "checkpointed", "message": "saved 412 characters",
                        "data": {"partial_chars": 412}}) == "Saved the answer so far at 412 characters, to continue from there."


# ---------------------------------------------------------------- over a real store, with the real manager


def test_tier_estimate_comes_from_recent_answers_of_that_model_else_of_its_provider(db_path):
    store = Store(db_path)
    now = time.time()
    store.record_attempts([UsageRow(request_id=f"r{i}", ts=now - 60, provider="demo", model="demo/quick-1",
                                    attempt=1, outcome="ok", latency_ms=1000.0, tokens_out=20, task_id=f"q{i}",
                                    label="QUICK") for i in range(4)], wait=True)
    est = tier_estimate(store, "demo", "demo/deep-1", now=now)
    assert est is not None and "other models on demo" in est.basis
    assert est.low_s <= DEFAULT_COMPLEX_TOKENS / 20 <= est.high_s
    store.record_attempts([UsageRow(request_id="d1", ts=now - 30, provider="demo", model="demo/deep-1", attempt=1,
                                    outcome="ok", latency_ms=10_000.0, tokens_out=400, task_id="c1",
                                    label="COMPLEX")], wait=True)
    est = tier_estimate(store, "demo", "demo/deep-1", now=now)
    assert "1 recent answer of demo/deep-1 on demo" in est.basis and est.low_s <= 10 <= est.high_s
    assert tier_estimate(store, "nobody", "x", now=now) is None


def test_an_interrupted_task_reports_the_pause_the_resume_and_both_parts_summed(db_path):
    router = Router.from_config({"demo": {"pace_ms": 8}}, db=db_path)
    manager = Manager(router)
    store = router.store
    try:
        long_task = manager.submit(COMPLEX, session="demo")
        wait_until(lambda: len(manager.get(long_task.id).partial_text) > 50)
        running = task_story(store, manager.get(long_task.id))
        assert running.status == "running" and running.running_s > 0 and not running.pauses
        task, chunks = manager.submit_streaming(QUICK, session="demo")
        first = next(chunks)                  # the long task was paused before the first chunk came
        paused = task_story(store, manager.get(long_task.id))
        assert paused.headline.startswith(f"paused for task `{task.id}` at ")
        notes = interruption_notes(store, task.id)
        assert notes and notes[0].startswith(f"⏸️ Paused background task `{long_task.id}` at ")
        assert "Resumed" not in notes[0]
        assert (first + "".join(chunks)).strip().endswith("= 4.")
        assert "▶️ Resumed it when this answer ended." in interruption_notes(store, task.id)[0]

        manager.wait(long_task.id, timeout=30)
        store.flush()
        done = task_story(store, manager.get(long_task.id))
        rows = [r for r in store.usage_rows(task_id=long_task.id) if r["outcome"] == "ok"]
        assert len(rows) == 2 and done.totals.parts == 2
        assert done.totals.latency_ms == pytest.approx(sum(r["latency_ms"] for r in rows))
        assert done.totals.tokens_out == sum(r["tokens_out"] for r in rows)
        assert done.headline == "done in 2 parts (paused once)" and len(done.pauses) == 1
        assert done.progress == 1.0
        facts = reply_facts(store, long_task.id)
        assert facts["parts"] == 2 and facts["tokens_out"] == done.totals.tokens_out
        assert " in 2 parts" in facts_line(facts)
        log = decision_log(store)
        assert any(r["what happened"] == f"Paused so task {task.id} could answer first." for r in log)
        assert all(r["time"][:4].isdigit() and r["time"][4] == "-" for r in log)      # dates, not just times
    finally:
        manager.shutdown(2)
