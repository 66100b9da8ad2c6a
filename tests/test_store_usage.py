"""The usage table: `UsageRow` is its one spelling, rows round-trip, and its queries filter, order and limit."""

from __future__ import annotations

import dataclasses

import pytest

from core.store import USAGE_COLUMNS, Store, UsageRow


@pytest.fixture
def store(db_url):
    s = Store(db_url)
    yield s
    s.close()
    s.close_connections()


def attempt(request_id: str, ts: float, provider: str = "alpha", **extra) -> UsageRow:
    return UsageRow(request_id=request_id, ts=ts, provider=provider, attempt=extra.pop("attempt", 1),
                    outcome=extra.pop("outcome", "ok"), **extra)


def test_usage_row_fields_are_the_tables_columns(store: Store):
    table = store.columns("usage")
    assert table[0] == "id"
    assert USAGE_COLUMNS == tuple(f.name for f in dataclasses.fields(UsageRow)) == tuple(table[1:])


def test_a_usage_row_is_slotted_and_keyword_only():
    row = attempt("r1", 1.0)
    with pytest.raises(AttributeError):
        row.api_key = "sk-x"                       # slots: no stray attribute can ride along
    with pytest.raises(TypeError):
        UsageRow("r1", 1.0, None, None, "alpha")    # keyword-only: no column order to get wrong


def test_every_field_round_trips(store: Store):
    sent = UsageRow(request_id="r1", ts=1700000000.5, session="s" * 16, task_id="t1", provider="openrouter",
                    model="openai/gpt-4o-mini", key_source="byok", attempt=2, outcome="ok", http_status=200,
                    latency_ms=412.5, ttft_ms=80.25, tokens_in=12, tokens_out=34, cost_usd=0.000123,
                    cost_source="provider", label="QUICK", streamed=True, error=None)
    store.record_attempts([sent], wait=True)
    (got,) = store.usage_rows(request_id="r1")
    assert got.pop("id") == 1
    assert got == {**dataclasses.asdict(sent), "streamed": 1}


def test_a_mapping_is_read_by_the_same_fields_and_extra_keys_are_ignored(store: Store):
    store.bulk_insert_usage([{"request_id": "r1", "ts": 1.0, "provider": "alpha", "attempt": 1, "outcome": "ok",
                              "latency_ms": 5.0, "streamed": None, "not_a_column": "x"}])
    (got,) = store.usage_rows()
    assert got["latency_ms"] == 5.0 and got["streamed"] == 0 and "not_a_column" not in got


def test_a_mapping_missing_a_required_field_is_refused():
    with pytest.raises(TypeError, match="outcome"):
        UsageRow.from_mapping({"request_id": "r1", "ts": 1.0, "provider": "alpha", "attempt": 1})


def test_usage_rows_filters_by_request_and_task_in_insert_order_up_to_the_limit(store: Store):
    store.bulk_insert_usage([attempt("r1", 3.0, attempt=1, outcome="timeout"), attempt("r2", 1.0, task_id="t1"),
                             attempt("r1", 2.0, "beta", attempt=2), attempt("r3", 0.5, task_id="t1")])
    assert [(r["provider"], r["attempt"]) for r in store.usage_rows(request_id="r1")] == [("alpha", 1), ("beta", 2)]
    assert [r["request_id"] for r in store.usage_rows(task_id="t1")] == ["r2", "r3"]
    assert [r["request_id"] for r in store.usage_rows(request_id="r1", task_id="t1")] == []
    assert [r["id"] for r in store.usage_rows(limit=3)] == [1, 2, 3]
    assert store.usage_count() == 4


def test_bulk_insert_writes_every_batch(store: Store):
    store.bulk_insert_usage((attempt(f"r{i}", float(i)) for i in range(25)), batch_size=10)
    assert store.usage_count() == 25
    assert store.usage_rows(limit=100)[-1]["request_id"] == "r24"


def test_recent_provider_latency_is_the_median_of_ok_attempts_in_the_window(store: Store):
    store.bulk_insert_usage([attempt(f"a{i}", 100.0 + i, latency_ms=ms) for i, ms in enumerate([30, 10, 20, 50, 40])]
                            + [attempt("slow-error", 101.0, outcome="timeout", latency_ms=99_000.0),
                               attempt("too-old", 10.0, latency_ms=1.0),
                               attempt("b1", 150.0, "beta", latency_ms=7.0)])
    assert store.recent_provider_latency(since=100.0) == {"alpha": 30.0, "beta": 7.0}
    assert store.recent_provider_latency(since=120.0) == {"beta": 7.0}
    assert store.recent_provider_latency(since=200.0) == {}


def test_shared_spend_counts_only_this_sessions_shared_key_use(store: Store):
    mine, other = "a" * 16, "b" * 16
    store.bulk_insert_usage([
        # one request, two attempts on the shared key, within the minute: one request
        attempt("r1", 1000.0, session=mine, key_source="shared", attempt=1, outcome="timeout", tokens_out=3),
        attempt("r1", 1001.0, session=mine, key_source="shared", attempt=2, tokens_in=10, tokens_out=20,
                cost_usd=0.5),
        attempt("r2", 500.0, session=mine, key_source="shared", tokens_in=1, cost_usd=0.25),     # earlier today
        attempt("r3", 1002.0, session=mine, key_source="byok", tokens_in=1000, cost_usd=9.0),   # own key
        attempt("r4", 1002.0, session=other, key_source="shared", tokens_in=1000, cost_usd=9.0),
        attempt("r5", 10.0, session=mine, key_source="shared", tokens_in=1000, cost_usd=9.0),    # yesterday
    ])
    assert store.shared_spend(mine, minute_since=960.0, day_since=100.0) == {
        "requests_last_minute": 1, "tokens_today": 34, "usd_today": 0.75}
    assert store.shared_spend("c" * 16, minute_since=0.0, day_since=0.0) == {
        "requests_last_minute": 0, "tokens_today": 0, "usd_today": 0}
