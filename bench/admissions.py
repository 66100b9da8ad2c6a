"""What a requests-a-minute check costs now that it is counted in the database (core/store/admissions.py).

    python bench/admissions.py                          # SQLite in a temporary folder
    python bench/admissions.py postgresql://…/db        # a PostgreSQL database (a throw-away schema in it)

Per backend: the median of 2,000 sequential `admit` calls (one short transaction: BEGIN, [advisory lock],
count, insert, COMMIT) beside the baseline of the same run, one trivial read (`SELECT 1`) and the read the
budget already made per request (`shared_spend`: tokens and USD a day from the usage rows); then the same
calls from 8 threads of one process on one subject, all queueing on that subject's lock.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.store import Store  # noqa: E402

N = 2000


def median_ms(call, n: int = N) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def contended(store: Store, threads: int = 8, per_thread: int = 250) -> float:
    """Admissions a second with `threads` threads admitting on one subject at once."""
    gate = threading.Barrier(threads + 1)

    def work() -> None:
        gate.wait()
        for _ in range(per_thread):
            store.admit("bench:contended", 10**9)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for w in workers:
        w.start()
    gate.wait()
    start = time.perf_counter()
    for w in workers:
        w.join()
    return threads * per_thread / (time.perf_counter() - start)


def run(url: str) -> None:
    store = Store(url)
    i = iter(range(10**9))
    admit = median_ms(lambda: store.admit(f"bench:{next(i) % 50}", 10**9))
    trivial = median_ms(lambda: store.execute("SELECT 1").fetchone())
    spend = median_ms(lambda: store.shared_spend("bench", minute_since=0.0, day_since=0.0))
    rate = contended(store)
    print(f"{store.dialect:10} admit {admit:.3f} ms median · SELECT 1 {trivial:.3f} ms ({admit / trivial:.1f}×) · "
          f"shared_spend {spend:.3f} ms · 8 threads on one subject {rate:,.0f} admissions/s")
    store.close()


def main() -> None:
    if len(sys.argv) > 1:
        import psycopg

        schema = f"bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(sys.argv[1], autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        try:
            sep = "&" if "?" in sys.argv[1] else "?"
            run(f"{sys.argv[1]}{sep}options=-csearch_path%3D{schema}")
        finally:
            with psycopg.connect(sys.argv[1], autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")
        return
    with tempfile.TemporaryDirectory() as folder:
        run(str(Path(folder) / "bench.db"))


if __name__ == "__main__":
    main()
