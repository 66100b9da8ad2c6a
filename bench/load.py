"""Fault and load bench: many sessions against three local providers that fail at random.

    python bench/load.py                    # 60 s, 50 sessions + 5 AppTest sessions, 30 % faults; then 0 %
    python bench/load.py --quick            # 10 s, 10 sessions
    python bench/load.py --seconds 30 --sessions 20 --fail-rate 0.3 --apptests 5 --seed 7
    python bench/load.py --db postgresql://postgres@127.0.0.1:5432/postgres        # on PostgreSQL
    python bench/load.py --db postgresql://… --processes 1 2 --repeat 3 --seconds 20  # 2 replicas vs 1

Each run has two phases of the same length and shape: the load with `--fail-rate` faults, then a
baseline with none, so the output gives throughput and p95 under faults as a ratio of the baseline.

The load: three OpenAI-compatible servers (tests/fault_server.py, in a child process) are the
`huggingface` (through InferenceClient), `openrouter` and `custom` providers of an
`agentic-config.yaml`. Session threads drive the core API the way the app's script threads do:
`Router.chat`, `Router.stream` (some stopped after three chunks) and `Manager.submit`, through one
process-wide Router and Manager with hosted-mode budgets on. Every fourth session brings a sentinel
BYOK key, one in four another BYOK key, one in four only uses the shared keys. Next to them, AppTest
sessions do Chat-page round trips through the app's own services (built from that config file, in a
temporary working directory), writing to the same SQLite file.

Streamlit's AppTest swaps a process-global mock Runtime for each script run, so two AppTest runs
cannot overlap in one process: the AppTest sessions take turns (a lock around each run) while the
core-API threads run truly concurrently.

The database is a temporary SQLite file, or with `--db` a PostgreSQL server: each run then creates a
fresh database on it and drops it afterwards, so every run starts from the same empty schema. Each run
of the command line drives its sessions from a fresh worker process (`load.py --part`), so one run
leaves nothing behind for the next. With `--processes N` the sessions (and AppTest sessions) are split
across N worker processes, each with its own Router, Manager and Store on the one database, as N
replicas of the app would run; `--processes 1 2` runs the faults phase once per count (`--repeat` times,
interleaved) and prints the throughput ratio. Every run records the load average and how busy the
machine's CPUs were, since other jobs share them.

`run_load(LoadSpec(...))` is also what tests/test_resilience.py runs, for a shorter time.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gc
import json
import logging
import os
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.agent.manager import Manager  # noqa: E402
from core.errors import PLAIN_WORDS, AllProvidersFailed, StreamInterrupted  # noqa: E402
from core.llm.budget import Budget, HostedSettings  # noqa: E402
from core.llm.router import Router  # noqa: E402
from core.store import Store  # noqa: E402
from core.store.connection import is_postgres_url  # noqa: E402
from tests.fake_openai import model_answer  # noqa: E402
from tests.fault_server import ServerProcess, start_servers  # noqa: E402

APP = str(ROOT / "Home.py")
PROVIDERS = ("huggingface", "openrouter", "custom")
SHARED_KEYS = {"huggingface": "hf_sharedLoadKey0000000000", "openrouter": "sk-or-v1-sharedloadkey000000",
               "custom": "shared-custom-load-key"}
OPS = ("chat", "stream", "stream_stop", "submit")
OP_WEIGHTS = (40, 25, 10, 25)
# Outcomes of one request. `wrong`: reported as answered, but not the provider's full answer.
ANSWERED, CLEAR, WRONG, OTHER = "answered", "clear_error", "wrong_answer", "other_error"
LOCKED = "database is locked"
_APPTEST_RUN = threading.Lock()       # AppTest runs share a process-global Runtime: one at a time


@dataclass
class LoadSpec:
    seconds: float = 60.0
    sessions: int = 50
    apptests: int = 5
    fail_rate: float = 0.3
    seed: int = 7
    # (any-shape key, HF-shape key): BYOK keys that must never reach the disk
    sentinels: tuple[str, str] = ("SENTINEL-bench-0a1b2c3d4e5f6a7b", "hf_SENTINELbench0123456789abcdef")
    provider_timeout: float = 1.0       # the client's timeout; a hang lasts longer
    hang_seconds: float = 1.5
    deadline: float = 5.0               # router deadline per request
    servers_in_process: bool = False    # tests: in this process, to read their counters directly
    apptest_round_trips: int = 6        # per AppTest instance, then a fresh one (the page re-renders history)
    drain_seconds: float = 30.0         # how long to wait for in-flight requests after the end
    hosted_rpm: int | None = None       # --hosted: a real per-visitor budget on the shared keys (requests/min)
    db: str | None = None               # a postgresql:// URL of an empty database; None: a SQLite file in the workdir
    processes: int = 0                  # 0: the sessions run in this process (the tests); N: split across N worker
                                        # processes, each with its own Router, Manager and Store (as replicas)


# ---------------------------------------------------------------- results

@dataclass
class Tally:
    """What one session saw; merged into the run's total at the end."""

    counts: Counter = field(default_factory=Counter)          # (op, outcome) → requests
    latencies: list[float] = field(default_factory=list)      # seconds, every request
    answered_latencies: list[float] = field(default_factory=list)
    op_latencies: dict[str, list[float]] = field(default_factory=dict)
    attempts: int = 0            # router calls: sum of len(result.attempts) / len(e.attempts)
    samples: dict[str, Counter] = field(default_factory=dict)  # outcome → first line of message → n
    wrong_by_provider: Counter = field(default_factory=Counter)
    by_profile: Counter = field(default_factory=Counter)      # (key profile, outcome) → requests
    flush_checks: int = 0        # answered chats whose rows were counted right after store.flush()
    flush_short: int = 0         # … and did not have one row per attempt
    flush_waits: list[float] = field(default_factory=list)   # seconds each of those flush() + read took
    budget_refusals: int = 0     # clear errors that said the visitor's share of the shared keys is used up

    def add(self, op: str, outcome: str, seconds: float, message: str | None = None, attempts: int = 0,
            provider: str | None = None) -> None:
        self.counts[op, outcome] += 1
        self.budget_refusals += outcome == CLEAR and bool(message) and "used up" in message
        if outcome == WRONG:
            self.wrong_by_provider[provider or "unknown"] += 1
        self.latencies.append(seconds)
        self.op_latencies.setdefault(op, []).append(seconds)
        if outcome == ANSWERED:
            self.answered_latencies.append(seconds)
        self.attempts += attempts
        if message is not None and outcome != ANSWERED:      # an empty wrong answer is a sample too
            bucket = self.samples.setdefault(outcome, Counter())
            line = message.strip().splitlines()[0][:200] if message.strip() else "(empty)"
            if line in bucket or len(bucket) < 40:
                bucket[line] += 1

    def merge(self, other: Tally) -> None:
        self.counts.update(other.counts)
        self.latencies.extend(other.latencies)
        self.answered_latencies.extend(other.answered_latencies)
        for op, values in other.op_latencies.items():
            self.op_latencies.setdefault(op, []).extend(values)
        self.attempts += other.attempts
        self.wrong_by_provider.update(other.wrong_by_provider)
        self.flush_checks += other.flush_checks
        self.by_profile.update(other.by_profile)
        self.flush_short += other.flush_short
        self.flush_waits.extend(other.flush_waits)
        self.budget_refusals += other.budget_refusals
        for outcome, bucket in other.samples.items():
            self.samples.setdefault(outcome, Counter()).update(bucket)

    def total(self, outcome: str | None = None, op: str | None = None) -> int:
        return sum(n for (o, out), n in self.counts.items()
                   if (outcome is None or out == outcome) and (op is None or o == op))

    def to_json(self) -> dict[str, Any]:
        """Plain JSON (a worker process hands its tally to the parent this way)."""
        return {"counts": [[*k, n] for k, n in self.counts.items()], "latencies": self.latencies,
                "answered_latencies": self.answered_latencies, "op_latencies": self.op_latencies,
                "attempts": self.attempts, "samples": {o: dict(b) for o, b in self.samples.items()},
                "wrong_by_provider": dict(self.wrong_by_provider),
                "by_profile": [[*k, n] for k, n in self.by_profile.items()], "flush_checks": self.flush_checks,
                "flush_short": self.flush_short, "flush_waits": self.flush_waits, "budget_refusals": self.budget_refusals}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Tally:
        return cls(counts=Counter({(a, b): n for a, b, n in data["counts"]}), latencies=data["latencies"],
                   answered_latencies=data["answered_latencies"], op_latencies=data["op_latencies"],
                   attempts=data["attempts"], samples={o: Counter(b) for o, b in data["samples"].items()},
                   wrong_by_provider=Counter(data["wrong_by_provider"]),
                   by_profile=Counter({(a, b): n for a, b, n in data["by_profile"]}),
                   flush_checks=data["flush_checks"], flush_short=data["flush_short"],
                   flush_waits=data["flush_waits"], budget_refusals=data["budget_refusals"])


@dataclass
class Part:
    """What one process of a run saw: its sessions' tally, and its own store, memory and logs."""

    tally: Tally
    seconds: float                   # start of load → end of drain
    drain_seconds: float
    rss_start_mb: float
    rss_end_mb: float
    rss_peak_mb: float
    py_blocks: tuple[int, int]
    write_errors: list[str]
    lost_rows: int                   # usage rows its stores' writers could not write
    log_locked: int
    log_sentinel: int
    stragglers: int
    samples: list[tuple[float, float, float]]
    cpu_seconds: float = 0.0         # this process's CPU time from the start of the load to the end of the drain
    pool: dict[str, int] = field(default_factory=dict)   # PostgreSQL: its stores' connection pools, summed

    def to_json(self) -> dict[str, Any]:
        return {**{f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "tally"},
                "tally": self.tally.to_json()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Part:
        return cls(**{**data, "tally": Tally.from_json(data["tally"]), "py_blocks": tuple(data["py_blocks"]),
                      "samples": [tuple(x) for x in data["samples"]]})


@dataclass
class MachineLoad:
    """How busy the (shared) machine was during a run: other engineers' jobs run beside the bench."""

    loadavg_start: float             # 1-minute load average as the run started (mostly the minute before it)
    loadavg_end: float               # … and as it ended (mostly the run itself)
    busy_cores: float                # CPUs busy on the whole machine, averaged over the run (/proc/stat)
    bench_cores: float               # of which this bench's own processes (itself, its servers and workers)
    cpus: int
    seconds: float = 0.0             # the whole run, setup included
    db_cores: float | None = None    # … and PostgreSQL's processes serving the run's database (a local server)

    def line(self) -> str:
        db = f", PostgreSQL for this database {self.db_cores:.2f}" if self.db_cores is not None else ""
        return (f"load average {self.loadavg_start:.2f} → {self.loadavg_end:.2f}; CPU busy {self.busy_cores:.2f} "
                f"of {self.cpus} cores: this bench's processes {self.bench_cores:.2f}{db}, the rest other jobs")


class _CpuClock:
    """Reads the machine's and this process tree's CPU time at start and end (children once reaped)."""

    def __init__(self) -> None:
        self.loadavg = os.getloadavg()[0]
        self.wall, self.total, self.idle, self.own = self._now()

    @staticmethod
    def _now() -> tuple[float, int, int, float]:
        with open("/proc/stat") as f:
            ticks = [int(x) for x in f.readline().split()[1:]]
        t = os.times()
        return time.monotonic(), sum(ticks), ticks[3] + ticks[4], t.user + t.system + t.children_user + t.children_system

    def stop(self, db_seconds: float | None = None) -> MachineLoad:
        wall, total, idle, own = self._now()
        cpus, seconds = os.cpu_count() or 1, max(1e-9, wall - self.wall)
        busy = (total - self.total - (idle - self.idle)) / max(1, total - self.total) * cpus
        return MachineLoad(self.loadavg, os.getloadavg()[0], busy, (own - self.own) / seconds, cpus, seconds,
                           None if db_seconds is None else db_seconds / seconds)


class DatabaseCpu(threading.Thread):
    """CPU seconds of the PostgreSQL server processes serving one database, when the server runs on this
    machine (its backends' /proc entries); read twice a second while the run lasts, and once at the end."""

    def __init__(self, db: str):
        super().__init__(name="database-cpu", daemon=True)
        self.db = db
        self.ticks: dict[int, int] = {}     # backend pid → utime + stime, latest reading
        self.halt = threading.Event()
        self.local = True

    def run(self) -> None:
        with _reader(self.db) as conn:
            while self.local and not self.halt.wait(0.5):
                self._read(conn)
            self._read(conn)

    def _read(self, conn: Any) -> None:
        for (pid,) in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()").fetchall():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    name, fields = f.read().split(" (", 1)[1].rsplit(")", 1)
            except OSError:
                continue                        # gone, or not on this machine
            if name != "postgres":              # (a backend's cmdline may still be the postmaster's path)
                self.local = False              # another machine's pid: nothing to read here
                return
            fields = fields.split()
            self.ticks[pid] = int(fields[11]) + int(fields[12])

    def stop(self) -> float | None:
        self.halt.set()
        self.join(10)
        return sum(self.ticks.values()) / os.sysconf("SC_CLK_TCK") if self.local and self.ticks else None


@dataclass
class LoadReport:
    spec: LoadSpec
    tally: Tally
    seconds: float                   # measured window (start of load → end of drain)
    drain_seconds: float
    rss_start_mb: float
    rss_end_mb: float
    rss_peak_mb: float
    py_blocks: tuple[int, int]       # Python heap blocks (sys.getallocatedblocks) at start and end, after gc
    usage_rows: int
    usage_rows_direct: int           # task_id IS NULL: Router.chat / Router.stream calls
    usage_rows_tasks: int            # task_id set: Manager tasks (threads and the Chat page)
    attempts_direct: int             # from the calls' results and exceptions
    attempts_tasks: int              # from each task's events: one per failed attempt + one per done
    write_errors: list[str]
    locked_errors: int               # "database is locked" in write errors, exceptions, pages and logs
    sentinel_files: list[str]        # files of the run holding a sentinel key (must be empty)
    sentinel_log_records: int
    sentinel_requests: int           # requests that carried a sentinel key to a provider
    files_scanned: dict[str, int]    # name → bytes
    served: list[dict[str, int]]     # per server: ok / fault → count
    outcomes_by_kind: dict[str, int]  # usage rows by outcome
    skips: dict[str, int]            # cooldown_skip rows: shared key held after a Retry-After / circuit open
    samples: list[tuple[float, float, float]]   # (seconds since start, RSS MB, WAL file MB) during the load
    stragglers: int                  # session threads still running after the drain
    max_shared_per_minute: int = 0   # most shared-key requests of one session in any 60 s
    lost_rows: int = 0               # usage rows a writer could not write (counted by the stores)
    backend: str = "sqlite"          # sqlite | postgresql
    machine: MachineLoad | None = None
    parts: list[Part] = field(default_factory=list)   # one per process

    @property
    def attempts(self) -> int:
        return self.attempts_direct + self.attempts_tasks

    @property
    def requests(self) -> int:
        return self.tally.total()

    def throughput(self) -> float:
        """Answered requests per second over the load window."""
        return self.tally.total(ANSWERED) / self.spec.seconds

    def pool_stats(self) -> dict[str, int]:
        total: Counter = Counter()
        for part in self.parts:
            total.update(part.pool)
        return dict(total)

    def answered_per_cpu_second(self) -> float | None:
        """Answered requests per CPU-second of the client processes during the load, plus the PostgreSQL
        processes serving the run's database (whole run) where they can be read. Other jobs on the machine
        change how much CPU the run gets; this says how much work it did with what it got."""
        cpu = sum(p.cpu_seconds for p in self.parts)
        if self.backend == "postgresql":
            if self.machine is None or self.machine.db_cores is None:
                return None
            cpu += self.machine.db_cores * self.machine.seconds
        return self.tally.total(ANSWERED) / cpu if cpu else None

    def percentile(self, q: float, answered_only: bool = False) -> float:
        values = self.tally.answered_latencies if answered_only else self.tally.latencies
        return percentile(values, q)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1]


# ---------------------------------------------------------------- what counts as a clear error

_ATTEMPT_WORDS = {*PLAIN_WORDS.values(), "skipped: cooling down after recent failures"}
_ATTEMPT_LINE = re.compile(r"^- (\d+ × )?\S+ / .+? with (byok|shared|demo) key: (?P<rest>.+)\.$")


def _known_words(rest: str) -> bool:
    """`timed out`, `timed out (HTTP 504)` or `timed out: the provider's own words`, for a known phrase."""
    return any(rest == w or rest.startswith((w + " (HTTP ", w + ": ")) for w in _ATTEMPT_WORDS)


def plain_words(message: str, sentinels: tuple[str, ...] = ()) -> bool:
    """Is this the text of an AllProvidersFailed or a StreamInterrupted, in plain words and without a key?

    AllProvidersFailed: a sentence, one line per attempt (`- 2 × provider / model with byok key: timed out
    (HTTP 504): the provider's own words.`), then `What to do: …`. StreamInterrupted: says the partial text is
    kept."""
    if not message or not message.strip() or "Traceback" in message:
        return False
    if any(s and s in message for s in sentinels):
        return False
    if "the partial text is kept" in message:
        return True
    first, *rest = message.strip().splitlines()
    if not first.strip() or first.startswith("- "):
        return False
    for line in rest:
        if not line.strip() or line.startswith("What to do: "):
            continue
        match = _ATTEMPT_LINE.match(line)
        if not match or not _known_words(match["rest"]):
            return False
    return True


# ---------------------------------------------------------------- config and sessions

def config_text(urls: list[str], spec: LoadSpec) -> str:
    """The agentic-config.yaml of the run: the three fault servers as three kinds of provider."""
    hf, openrouter, custom = urls
    t = spec.provider_timeout
    return (f"huggingface:\n  url: {hf}\n  token: {SHARED_KEYS['huggingface']}\n  timeout: {t}\n"
            f"openrouter:\n  url: {openrouter}\n  api_key: {SHARED_KEYS['openrouter']}\n  timeout: {t}\n"
            f"custom:\n  url: {custom}\n  api_key: {SHARED_KEYS['custom']}\n  models: [fake/custom-1]\n"
            f"  timeout: {t}\n"
            "router:\n  max_retries: 2\n  backoff_base: 0.05\n  backoff_cap: 0.5\n  retry_after_cap: 2\n"
            f"  cooldown_after: 5\n  cooldown_seconds: 2\n  deadline: {spec.deadline}\n"
            + (f"hosted:\n  enabled: true\n  requests_per_minute: {spec.hosted_rpm}\n  tokens_per_day: 1000000000\n"
               "  usd_per_day: 1000000\n  max_tasks_total: 1000\n" if spec.hosted_rpm else ""))


PROFILES = ("sentinel BYOK on custom + huggingface", "own key on openrouter", "shared keys only",
            "sentinel BYOK on openrouter")


def session_keys(index: int, sentinels: tuple[str, str]) -> dict[str, str]:
    """Key profile of session `index`: sentinel BYOK, another BYOK, shared keys only, sentinel on OpenRouter."""
    generic, hf = sentinels
    profile = index % 4
    if profile == 0:
        return {"custom": generic, "huggingface": hf}
    if profile == 1:
        return {"openrouter": f"sk-or-v1-byok{index:04d}abcdefabcdef"}
    if profile == 2:
        return {}
    return {"openrouter": generic}


def judge_text(text: str | None, expected: str) -> str:
    return ANSWERED if text == expected else WRONG


@dataclass
class Done:
    """How one request ended."""
    outcome: str
    message: str | None = None
    attempts: int = 0               # as the router's answer or exception reports them (tasks: 0, see events)
    provider: str | None = None     # the provider that answered, when known
    rows_after_flush: int | None = None   # usage rows of this request right after store.flush(), if checked
    check_seconds: float = 0.0      # time spent on that check: not part of the request's latency


def run_op(op: str, router: Router, manager: Manager, prompt: str, keys: dict[str, str], session: str,
           sentinels: tuple[str, ...], label: str, check_flush: bool = False) -> Done:
    """One request through the core API, judged."""
    messages = [{"role": "user", "content": prompt}]
    expected = model_answer(messages)
    stream = None
    try:
        if op == "chat":
            result = router.chat(messages, keys=keys, session=session)
            rows, started = None, time.perf_counter()
            if check_flush:     # the rows of a call that just returned are visible once flush() returns
                router.store.flush()
                rows = len(router.store.usage_rows(request_id=result.request_id))
            return Done(judge_text(result.text, expected), result.text[:120], len(result.attempts), result.provider,
                        rows, time.perf_counter() - started)
        if op == "stream":
            stream = router.stream(messages, keys=keys, session=session)
            text = stream.text()
            return Done(judge_text(text, expected), text[:120], len(stream.attempts), stream.provider)
        if op == "stream_stop":
            stream = router.stream(messages, keys=keys, session=session)
            parts = []
            for chunk in stream:
                parts.append(chunk)
                if len(parts) == 3:
                    break
            stream.close()
            text = "".join(parts)
            ok = text and expected.startswith(text) and (len(parts) == 3 or text == expected)
            return Done(ANSWERED if ok else WRONG, text[:120], len(stream.attempts), stream.provider)
        task = manager.submit(prompt, session, keys, label=label)
        if task.status == "done":
            return Done(judge_text(task.result, expected), (task.result or "")[:120], 0, task.provider)
        if task.status == "failed":
            return Done(CLEAR if plain_words(task.error or "", sentinels) else OTHER, task.error, 0, task.provider)
        return Done(OTHER, f"task ended {task.status}", 0, task.provider)
    except (AllProvidersFailed, StreamInterrupted) as e:
        return Done(CLEAR if plain_words(str(e), sentinels) else OTHER, f"{type(e).__name__}: {e}", len(e.attempts))
    except Exception as e:     # anything else escaping the core API is what this bench looks for
        attempts = len(stream.attempts) if stream is not None else 0
        return Done(OTHER, f"{type(e).__module__}.{type(e).__name__}: {e}", attempts)


def drive_session(index: int, spec: LoadSpec, router: Router, manager: Manager, stop_at: float,
                  tally: Tally) -> None:
    rng = random.Random(spec.seed * 10_007 + index)
    keys = session_keys(index, spec.sentinels)
    session = f"load-session-{index}"
    n = 0
    while time.monotonic() < stop_at:
        n += 1
        op = rng.choices(OPS, OP_WEIGHTS)[0]
        urgent = op == "submit" and rng.random() < 0.2
        prompt = f"{'Urgent: ' if urgent else ''}What is {index}+{n}?"
        start = time.perf_counter()
        done = run_op(op, router, manager, prompt, keys, session, spec.sentinels, "URGENT" if urgent else "QUICK",
                      check_flush=n % 10 == 0)
        tally.add(op, done.outcome, time.perf_counter() - start - done.check_seconds, done.message, done.attempts,
                  done.provider)
        tally.by_profile[PROFILES[index % 4], done.outcome] += 1
        if done.rows_after_flush is not None:
            tally.flush_checks += 1
            tally.flush_short += done.rows_after_flush != done.attempts
            tally.flush_waits.append(done.check_seconds)


def drive_apptest(index: int, spec: LoadSpec, stop_at: float, tally: Tally) -> None:
    """Chat-page round trips through AppTest; a fresh AppTest every few round trips."""
    from streamlit.testing.v1 import AppTest

    keys = session_keys(index, spec.sentinels)
    n = 0
    while time.monotonic() < stop_at:
        try:
            with _APPTEST_RUN:
                at = AppTest.from_file(APP, default_timeout=spec.deadline * 4 + 30).run()
                at.session_state["keys"] = dict(keys)
                at.switch_page("pages/chat.py").run()
        except Exception as e:
            tally.add("page", OTHER, 0.0, f"page did not load: {type(e).__name__}: {e}")
            return
        for _ in range(spec.apptest_round_trips):
            if time.monotonic() >= stop_at:
                return
            n += 1
            prompt = f"What is {100 + index}+{n}?"
            start = time.perf_counter()
            try:
                with _APPTEST_RUN:
                    start = time.perf_counter()      # the page's own time, not its turn in the queue
                    at.chat_input[0].set_value(prompt).run()
                outcome, message, provider = judge_page(at, prompt, spec.sentinels)
            except Exception as e:
                outcome, message, provider = OTHER, f"{type(e).__module__}.{type(e).__name__}: {e}", None
            tally.add("page", outcome, time.perf_counter() - start, message, provider=provider)
            tally.by_profile[PROFILES[index % 4], outcome] += 1


def _warm_up_app(spec: LoadSpec) -> None:
    from streamlit.testing.v1 import AppTest

    with _APPTEST_RUN:
        AppTest.from_file(APP, default_timeout=spec.deadline * 4 + 30).run().switch_page("pages/chat.py").run()


def judge_page(at: Any, prompt: str, sentinels: tuple[str, ...]) -> tuple[str, str | None, str | None]:
    """A Chat-page round trip: the full answer, or a plain-words error box; never an exception."""
    if at.exception:
        return OTHER, "page exception: " + " | ".join(str(e.value)[:300] for e in at.exception), None
    if not at.chat_message or at.chat_message[-1].name != "assistant":
        return OTHER, "no assistant message", None
    reply = at.chat_message[-1]
    facts = " ".join(c.value for c in reply.caption)
    provider = next((p for p in PROVIDERS if f"{p} / " in facts), None)
    errors = [e.value for e in reply.error]
    if errors:
        ok = all(plain_words(str(e), sentinels) for e in errors)
        return (CLEAR if ok else OTHER), " | ".join(str(e) for e in errors), provider
    text = reply.markdown[0].value if reply.markdown else ""
    expected = model_answer([{"role": "user", "content": prompt}])
    return judge_text(text, expected), text[:120], provider


# ---------------------------------------------------------------- observing the process

def rss_mb(field_name: str = "VmRSS") -> float:
    """This process's resident memory from /proc/self/status, in MB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


class LogWatch(logging.Handler):
    """Counts log records mentioning a locked database or a sentinel key; keeps nothing else."""

    def __init__(self, sentinels: tuple[str, ...]):
        super().__init__(level=logging.DEBUG)
        self.sentinels = sentinels
        self.records = 0
        self.locked = 0
        self.sentinel = 0

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                text += f" {record.exc_info[1]!r}"
        except Exception:
            text = str(record.msg)
        self.records += 1
        self.locked += LOCKED in text
        self.sentinel += any(s in text for s in self.sentinels)


@contextlib.contextmanager
def watching_logs(sentinels: tuple[str, ...]) -> Iterator[LogWatch]:
    watch = LogWatch(sentinels)
    root = logging.getLogger()
    level = root.level
    root.addHandler(watch)
    root.setLevel(min(level or logging.WARNING, logging.INFO))     # the router logs failed attempts at INFO
    try:
        with quiet_streamlit():
            yield watch
    finally:
        root.removeHandler(watch)
        root.setLevel(level)


@contextlib.contextmanager
def quiet_streamlit() -> Iterator[None]:
    """Drop Streamlit's bare-mode warnings ("missing ScriptRunContext") that AppTest sessions cause.

    A filter, not a level: Streamlit resets its loggers' levels when AppTest patches its config."""
    loggers = [logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context"),
               logging.getLogger("streamlit.runtime.state.session_state_proxy")]
    for logger in loggers:
        logger.addFilter(_drop_warnings)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(_drop_warnings)


def _drop_warnings(record: logging.LogRecord) -> bool:
    return record.levelno > logging.WARNING


def scan_for_sentinels(directory: Path, sentinels: tuple[str, ...]) -> tuple[list[str], dict[str, int]]:
    """(files holding a sentinel, name → size of every file scanned): the db and its -wal/-shm included."""
    hits, scanned = [], {}
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        scanned[path.name] = path.stat().st_size
        if _file_contains(path, [s.encode() for s in sentinels if s]):
            hits.append(str(path))
    return hits, scanned


def _file_contains(path: Path, needles: list[bytes], chunk: int = 1 << 20) -> bool:
    """Read in 1 MB chunks that overlap by the longest needle, so a big WAL never sits in memory whole."""
    overlap = max(map(len, needles), default=1) - 1
    tail = b""
    with open(path, "rb") as f:
        while block := f.read(chunk):
            data = tail + block
            if any(n in data for n in needles):
                return True
            tail = data[-overlap:] if overlap else b""
    return False


# ---------------------------------------------------------------- one run

@contextlib.contextmanager
def fault_servers(spec: LoadSpec) -> Iterator[tuple[list[str], list[dict[str, Any]]]]:
    """Three fault servers: (their URLs, a list filled with their counters when the block ends)."""
    reports: list[dict[str, Any]] = []
    if spec.servers_in_process:
        servers = start_servers(3, spec.fail_rate, spec.seed, spec.hang_seconds)
        try:
            yield [s.url for s in servers], reports
        finally:
            reports.extend({"served": dict(s.served), "keys_seen": dict(s.keys_seen)} for s in servers)
            for s in servers:
                s.stop()
    else:
        with ServerProcess(3, spec.fail_rate, spec.seed, spec.hang_seconds) as child:
            yield child.urls, reports
        reports.extend(child.report)


def run_load(spec: LoadSpec, workdir: str | os.PathLike) -> LoadReport:
    """Run the load for `spec.seconds` in `workdir` (it holds the config, and the SQLite database unless
    `spec.db` names a PostgreSQL one) and report.

    Changes the process's working directory and SPACES_OS_DB for the run (the app's services read
    both) and restores them; clears Streamlit's resource cache before and after. With `spec.processes`
    of 1 or more the sessions run in that many worker processes instead (`run_processes`)."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    db = spec.db or str(workdir / "spaces_os.db")
    sentinels = tuple(spec.sentinels)
    clock = _CpuClock()
    db_cpu = DatabaseCpu(db) if is_postgres_url(db) else None
    if db_cpu is not None:
        db_cpu.start()
    with fault_servers(spec) as (urls, server_reports):
        (workdir / "agentic-config.yaml").write_text(config_text(urls, spec))
        if spec.processes:
            parts = run_processes(spec, workdir, db)
        else:
            parts = [run_part(spec, workdir, db, range(spec.sessions), range(spec.apptests))]
    machine = clock.stop(db_cpu.stop() if db_cpu is not None else None)
    tally = Tally()
    for part in parts:
        tally.merge(part.tally)
    counts = _count_rows(db)
    files_hit, files_scanned = scan_for_sentinels(workdir, sentinels)
    if is_postgres_url(db):
        tables_hit, tables_scanned = scan_postgres_for_sentinels(db, sentinels)
        files_hit += tables_hit
        files_scanned.update(tables_scanned)
    served = [dict(r.get("served", {})) for r in server_reports]
    sentinel_requests = sum(n for r in server_reports for k, n in r.get("keys_seen", {}).items() if k in sentinels)
    messages = [m for bucket in tally.samples.values() for m in bucket]
    write_errors = [e for part in parts for e in part.write_errors]
    locked = (sum(LOCKED in e for e in write_errors) + sum(LOCKED in m for m in messages)
              + sum(p.log_locked for p in parts))
    return LoadReport(
        spec=spec, tally=tally, seconds=max(p.seconds for p in parts),
        drain_seconds=max(p.drain_seconds for p in parts), rss_start_mb=sum(p.rss_start_mb for p in parts),
        rss_end_mb=sum(p.rss_end_mb for p in parts), rss_peak_mb=sum(p.rss_peak_mb for p in parts),
        py_blocks=(sum(p.py_blocks[0] for p in parts), sum(p.py_blocks[1] for p in parts)),
        usage_rows=counts["usage"], usage_rows_direct=counts["usage_direct"], usage_rows_tasks=counts["usage_tasks"],
        attempts_direct=tally.attempts, attempts_tasks=counts["task_attempts"], write_errors=write_errors,
        locked_errors=locked, sentinel_files=files_hit, sentinel_log_records=sum(p.log_sentinel for p in parts),
        sentinel_requests=sentinel_requests, files_scanned=files_scanned, served=served,
        outcomes_by_kind=counts["by_outcome"], skips=counts["skips"], samples=parts[0].samples,
        max_shared_per_minute=counts["max_shared_per_minute"], stragglers=sum(p.stragglers for p in parts),
        lost_rows=sum(p.lost_rows for p in parts), backend="postgresql" if is_postgres_url(db) else "sqlite",
        machine=machine, parts=parts)


def run_part(spec: LoadSpec, workdir: Path, db: str, sessions: Sequence[int], apptests: Sequence[int],
             wait_for_start: Callable[[], None] | None = None) -> Part:
    """This process's share of a run: the sessions and AppTest sessions with these indices, through one
    Router, Manager and Store of its own on `db`. `wait_for_start` (worker processes) is called once
    everything is built and warmed up, and returns when the load should begin."""
    import streamlit as st

    from core.app import widgets

    sentinels = tuple(spec.sentinels)
    old_cwd, old_db = os.getcwd(), os.environ.get("SPACES_OS_DB")
    with watching_logs(sentinels) as logs:
        os.chdir(workdir)
        os.environ["SPACES_OS_DB"] = db
        st.cache_resource.clear()
        store = Store(db)
        router = Router.from_config(workdir / "agentic-config.yaml", db=store, budget=Budget(
            store, HostedSettings(enabled=True, requests_per_minute=spec.hosted_rpm or 100_000,
                                  tokens_per_day=10**9, usd_per_day=10**6)))
        manager = Manager(router, workers=1)
        app_store: Store | None = None
        try:
            if apptests:
                _warm_up_app(spec)      # imports and services built before the first RSS reading
            gc.collect()
            rss_start, blocks_start = rss_mb(), sys.getallocatedblocks()
            tallies = [Tally() for _ in range(len(sessions) + len(apptests))]
            if wait_for_start is not None:
                wait_for_start()
            started, cpu_start = time.monotonic(), _own_cpu()
            stop_at = started + spec.seconds
            threads = [threading.Thread(target=drive_session, name=f"load-{i}", daemon=True,
                                        args=(i, spec, router, manager, stop_at, tallies[n]))
                       for n, i in enumerate(sessions)]
            threads += [threading.Thread(target=drive_apptest, name=f"apptest-{i}", daemon=True,
                                         args=(i, spec, stop_at, tallies[len(sessions) + n]))
                        for n, i in enumerate(apptests)]
            samples: list[tuple[float, float, float]] = []
            sampler = threading.Thread(target=_sample, args=(samples, db, started, stop_at, spec.seconds / 6),
                                       daemon=True)
            sampler.start()
            for t in threads:
                t.start()
            join_until = stop_at + spec.drain_seconds
            for t in threads:
                t.join(max(0.0, join_until - time.monotonic()))
            stragglers = sum(t.is_alive() for t in threads)
            ended, cpu_end = time.monotonic(), _own_cpu()
            if apptests:
                app_services = widgets.services()
                app_store = app_services.store
                if app_services.manager is not None:
                    app_services.manager.shutdown(timeout=2.0)
            manager.shutdown(timeout=2.0)
            router.close()               # flushes the router's store
            if app_store is not None:
                app_store.flush()
            gc.collect()
            rss_end, rss_peak, blocks_end = rss_mb(), rss_mb("VmHWM"), sys.getallocatedblocks()
            tally = Tally()
            for t in tallies:
                tally.merge(t)
            stores = [store] + ([app_store] if app_store is not None else [])
            write_errors = [e for s in stores for e in s.write_errors]
            lost_rows = sum(s.lost_rows for s in stores)
            pool = _pool_stats(stores)
        finally:
            os.chdir(old_cwd)
            if old_db is None:
                os.environ.pop("SPACES_OS_DB", None)
            else:
                os.environ["SPACES_OS_DB"] = old_db
    st.cache_resource.clear()
    for s in stores:
        s.close()
        s.close_connections()       # PostgreSQL: the pool's connections, so the run's database can be dropped
    return Part(tally=tally, seconds=ended - started, drain_seconds=max(0.0, ended - stop_at),
                rss_start_mb=rss_start, rss_end_mb=rss_end, rss_peak_mb=rss_peak, py_blocks=(blocks_start, blocks_end),
                write_errors=write_errors, lost_rows=lost_rows, log_locked=logs.locked, log_sentinel=logs.sentinel,
                stragglers=stragglers, samples=samples, cpu_seconds=cpu_end - cpu_start, pool=pool)


POOL_STATS = ("requests_num", "requests_queued", "requests_wait_ms", "connections_num", "pool_max")


def _pool_stats(stores: list[Store]) -> dict[str, int]:
    """How often the stores' PostgreSQL pools made a caller wait for a connection, and for how long in all."""
    total: Counter = Counter()
    for store in stores:
        pg = getattr(store, "_pg", None)
        if pg is not None:
            stats = pg.pool.get_stats()
            total.update({k: stats.get(k, 0) for k in POOL_STATS})
    return dict(total)


def _own_cpu() -> float:
    t = os.times()
    return t.user + t.system


def _split(indices: Sequence[int], n: int) -> list[list[int]]:
    """`indices` in n contiguous runs whose lengths differ by at most one (the first runs get the extra)."""
    size, extra = divmod(len(indices), n)
    out, at = [], 0
    for k in range(n):
        take = size + (k < extra)
        out.append(list(indices[at:at + take]))
        at += take
    return out


def run_processes(spec: LoadSpec, workdir: Path, db: str) -> list[Part]:
    """Split the sessions across `spec.processes` worker processes (`load.py --part`), each with its own
    Router, Manager and Store on `db` as replicas would; start their load at the same moment once all
    are ready, and collect what each saw."""
    Store(db).close_connections()     # migrated once here, so the workers' start does not queue on it
    sessions, apptests = _split(range(spec.sessions), spec.processes), _split(range(spec.apptests), spec.processes)
    with tempfile.TemporaryDirectory(prefix="spaces-os-load-parts-") as parts_dir:    # not in workdir: it
        workers = []                                                                  # holds the sentinels
        for k in range(spec.processes):
            job = {"spec": dataclasses.asdict(spec), "workdir": str(workdir), "db": db, "sessions": sessions[k],
                   "apptests": apptests[k], "out": str(Path(parts_dir) / f"part-{k}.json")}
            proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--part"], cwd=ROOT,
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            proc.stdin.write(json.dumps(job) + "\n")
            proc.stdin.flush()
            ready = threading.Event()
            threading.Thread(target=_relay, args=(proc, k, ready), daemon=True).start()
            workers.append((proc, ready, job["out"]))
        try:
            for proc, ready, _ in workers:
                while not ready.wait(1.0):
                    if proc.poll() is not None:
                        raise RuntimeError(f"a load worker exited with {proc.returncode} before it was ready")
            start = time.time() + 0.5
            for proc, _, _ in workers:
                proc.stdin.write(f"{start}\n")
                proc.stdin.close()
            for proc, _, _ in workers:
                proc.wait(timeout=spec.seconds + spec.drain_seconds + 120)
        finally:
            for proc, _, _ in workers:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        bad = [k for k, (proc, _, out) in enumerate(workers) if proc.returncode or not Path(out).exists()]
        if bad:
            raise RuntimeError(f"load worker(s) {bad} failed: see their output above")
        return [Part.from_json(json.loads(Path(out).read_text())) for _, _, out in workers]


def _relay(proc: subprocess.Popen, k: int, ready: threading.Event) -> None:
    """A worker's stdout: `ready` once it is warmed up; anything else is passed on, marked with its number."""
    for line in proc.stdout:
        if line.strip() == "ready":
            ready.set()
        else:
            print(f"[worker {k}] {line}", end="", file=sys.stderr, flush=True)


def part_main() -> int:
    """`load.py --part`: one worker process of a multi-process run (its job arrives as JSON on stdin)."""
    job = json.loads(sys.stdin.readline())
    spec = LoadSpec(**{**job["spec"], "sentinels": tuple(job["spec"]["sentinels"])})

    def wait_for_start() -> None:
        print("ready", flush=True)
        start = float(sys.stdin.readline())
        time.sleep(max(0.0, start - time.time()))

    with quiet_streamlit():
        part = run_part(spec, Path(job["workdir"]), job["db"], job["sessions"], job["apptests"], wait_for_start)
    Path(job["out"]).write_text(json.dumps(part.to_json()))
    sys.stdout.flush()
    sys.stderr.flush()
    # run_part closed every store and manager; the exit handlers would shut the app's services down a second
    # time, against pools already closed (and, once the parent drops the database, one that is gone).
    os._exit(0)


def _sample(samples: list[tuple[float, float, float]], db: str, started: float, stop_at: float,
            every: float) -> None:
    """(seconds, RSS MB, MB) every `every` s: the SQLite WAL file, or the PostgreSQL database's size."""
    with _size_reader(db) as size_mb:
        while True:
            now = time.monotonic()
            samples.append((now - started, rss_mb(), size_mb()))
            if now >= stop_at:
                return
            time.sleep(min(every, max(0.0, stop_at - now)))


@contextlib.contextmanager
def _size_reader(db: str) -> Iterator[Callable[[], float]]:
    if not is_postgres_url(db):
        wal = Path(f"{db}-wal")
        yield lambda: wal.stat().st_size / 1e6 if wal.exists() else 0.0
        return
    with _reader(db) as conn:
        yield lambda: conn.execute("SELECT pg_database_size(current_database())").fetchone()[0] / 1e6


@contextlib.contextmanager
def _reader(db: str) -> Iterator[Any]:
    """A connection of its own beside the run's stores: read-only on SQLite, autocommit on PostgreSQL. Its
    statements take no parameters, so one spelling serves both."""
    if is_postgres_url(db):
        import psycopg

        conn = psycopg.connect(db, autocommit=True)
    else:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        yield conn
    finally:
        conn.close()


@contextlib.contextmanager
def fresh_postgres_database(server: str) -> Iterator[str]:
    """A new, empty database on the PostgreSQL server that `server` (a URL of any database there) names:
    yields its URL, and drops it afterwards, so each run starts from the same empty schema."""
    import psycopg

    name = f"spaces_os_load_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(server)._replace(path="/" + name))
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def scan_postgres_for_sentinels(db: str, sentinels: tuple[str, ...]) -> tuple[list[str], dict[str, int]]:
    """(tables holding a sentinel in any column, table → bytes): every row of every table, read as text."""
    needles = [s for s in sentinels if s]
    hits, scanned = [], {}
    with _reader(db) as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                                             "ORDER BY tablename").fetchall()]
        for table in tables:
            scanned[f"postgresql:{table}"] = conn.execute("SELECT pg_total_relation_size(%s::regclass)",
                                                          (table,)).fetchone()[0]
            if needles:
                where = " OR ".join("strpos(r::text, %s) > 0" for _ in needles)
                if conn.execute(f'SELECT count(*) FROM "{table}" AS r WHERE {where}', needles).fetchone()[0]:
                    hits.append(f"postgresql:{table}")
    return hits, scanned


def _max_shared_requests_per_minute(conn: Any) -> int:
    """The most requests any one session sent on the shared keys within any 60 s (a sliding window over
    each request's first shared attempt): what the hosted per-minute budget promises to bound."""
    starts: dict[str, list[float]] = {}
    for session, ts in conn.execute("SELECT session, min(ts) FROM usage WHERE key_source = 'shared' "
                                    "AND session IS NOT NULL GROUP BY session, request_id").fetchall():
        starts.setdefault(session, []).append(ts)
    most = 0
    for times in starts.values():
        times.sort()
        lo = 0
        for hi, t in enumerate(times):
            while t - times[lo] >= 60:
                lo += 1
            most = max(most, hi - lo + 1)
    return most


def _count_rows(db: str) -> dict[str, Any]:
    """Usage rows, and the attempts the tasks' decision log says were made (own connection, after the run)."""
    with _reader(db) as conn:
        one = lambda sql: conn.execute(sql).fetchone()[0]   # noqa: E731
        return {
            "usage": one("SELECT count(*) FROM usage"),
            "usage_direct": one("SELECT count(*) FROM usage WHERE task_id IS NULL"),
            "usage_tasks": one("SELECT count(*) FROM usage WHERE task_id IS NOT NULL"),
            "task_attempts": one("SELECT count(*) FROM events WHERE task_id IS NOT NULL "
                                 "AND kind IN ('attempt_failed', 'done')"),
            "max_shared_per_minute": _max_shared_requests_per_minute(conn),
            "by_outcome": dict(conn.execute("SELECT outcome, count(*) FROM usage GROUP BY outcome "
                                            "ORDER BY count(*) DESC").fetchall()),
            "skips": {"shared key held (Retry-After)": one("SELECT count(*) FROM usage WHERE outcome = "
                                                           "'cooldown_skip' AND error LIKE 'shared key rate limited%'"),
                      "circuit open": one("SELECT count(*) FROM usage WHERE outcome = 'cooldown_skip' "
                                          "AND error LIKE 'provider cooling down%'")},
        }


# ---------------------------------------------------------------- output

def summary(report: LoadReport, title: str) -> str:
    t = report.tally
    procs = len(report.parts) or 1
    where = "a fresh PostgreSQL database" if report.backend == "postgresql" else "a SQLite file"
    lines = [f"== {title}: {report.spec.sessions} sessions + {report.spec.apptests} AppTest sessions, "
             f"{report.spec.seconds:.0f} s, faults {report.spec.fail_rate:.0%}; {where}, "
             f"{procs} process{'es' if procs > 1 else ''}",
             *([f"machine            {report.machine.line()}"] if report.machine else []),
             f"requests           {report.requests}  (answered {t.total(ANSWERED)}, clear errors {t.total(CLEAR)}, "
             f"wrong answers {t.total(WRONG)}, other errors {t.total(OTHER)})"]
    for op in (*OPS, "page"):
        if t.total(op=op):
            values = t.op_latencies.get(op, [])
            lines.append(f"  {op:<12}     {t.total(op=op):>6}: answered {t.total(ANSWERED, op)}, "
                         f"clear {t.total(CLEAR, op)}, wrong {t.total(WRONG, op)}, other {t.total(OTHER, op)}; "
                         f"p50 {percentile(values, 0.5) * 1000:.0f} ms, p95 {percentile(values, 0.95) * 1000:.0f} ms")
    lines += [
        *(f"  {name:<36} answered {t.by_profile[name, ANSWERED]}, clear {t.by_profile[name, CLEAR]}, "
          f"wrong {t.by_profile[name, WRONG]}, other {t.by_profile[name, OTHER]}" for name in PROFILES),
        f"latency all        p50 {report.percentile(0.5) * 1000:.0f} ms, p95 {report.percentile(0.95) * 1000:.0f} ms",
        f"latency answered   p50 {report.percentile(0.5, True) * 1000:.0f} ms, "
        f"p95 {report.percentile(0.95, True) * 1000:.0f} ms",
        f"throughput         {report.throughput():.1f} answered/s, {report.requests / report.spec.seconds:.1f} "
        f"requests/s (drain {report.drain_seconds:.1f} s, stragglers {report.stragglers})"
        + (f"; {per_cpu:.1f} answered per CPU-second (client processes"
           + (" + PostgreSQL" if report.backend == "postgresql" else "") + ")"
           if (per_cpu := report.answered_per_cpu_second()) else ""),
        f"usage rows         {report.usage_rows} vs attempts {report.attempts}  (router calls: "
        f"{report.usage_rows_direct} rows vs {report.attempts_direct} attempts; tasks: {report.usage_rows_tasks} "
        f"rows vs {report.attempts_tasks} attempts); right after flush(): {t.flush_checks - t.flush_short} of "
        f"{t.flush_checks} checked requests complete (flush() and the read: p50 "
        f"{percentile(t.flush_waits, 0.5) * 1000:.0f} ms, p95 {percentile(t.flush_waits, 0.95) * 1000:.0f} ms)",
        f"database locked    {report.locked_errors}   (write errors: {len(report.write_errors)}, usage rows lost: "
        f"{report.lost_rows})",
        *([f"connection pools   {pool['requests_num']:,} checkouts, {pool['requests_queued']:,} waited for a "
           f"connection ({pool['requests_wait_ms'] / 1000:.1f} s in all); {pool['connections_num']} connections "
           f"opened, a limit of {pool['pool_max']} in all ({len(report.parts)} process(es) × 2 stores)"]
          if (pool := report.pool_stats()) else []),
        f"shared-key budget  {t.budget_refusals} requests refused with 'used up'; most shared requests of one "
        f"session in any 60 s: {report.max_shared_per_minute}"
        + (f" (limit {report.spec.hosted_rpm})" if report.spec.hosted_rpm else " (no real limit)"),
        f"sentinel key       {len(report.sentinel_files)} files of {len(report.files_scanned)} scanned ("
        + ", ".join(f"{name} {size / 1e6:.1f} MB" for name, size in report.files_scanned.items())
        + f"), {report.sentinel_log_records} log records; "
        f"{report.sentinel_requests} requests carried it to a provider",
        f"{'RSS (sum of all)' if procs > 1 else 'RSS':<19}start {report.rss_start_mb:.1f} MB, end {report.rss_end_mb:.1f} MB "
        f"(growth {report.rss_end_mb - report.rss_start_mb:+.1f} MB, peak {report.rss_peak_mb:.1f} MB); during: "
        + ", ".join(f"{t:.0f} s {mb:.0f}" for t, mb, _ in report.samples)
        + (" (process 1's)" if procs > 1 else ""),
        f"Python heap        {report.py_blocks[0]:,} → {report.py_blocks[1]:,} allocated blocks after gc "
        f"({report.py_blocks[1] - report.py_blocks[0]:+,})",
        ("database during   " if report.backend == "postgresql" else "WAL file during    ")
        + ", ".join(f"{t:.0f} s {size:.0f} MB" for t, _, size in report.samples),
        "attempt outcomes   " + ", ".join(f"{k} {v}" for k, v in report.outcomes_by_kind.items())
        + " (skips: " + ", ".join(f"{k} {v}" for k, v in report.skips.items()) + ")",
        "wrong answers by   " + (", ".join(f"{k} {v}" for k, v in t.wrong_by_provider.items()) or "none"),
        "server answers     " + ", ".join(f"{k} {v}" for k, v in sorted(_sum_served(report.served).items(),
                                                                       key=lambda kv: -kv[1])),
    ]
    for outcome in (CLEAR, WRONG, OTHER):
        bucket = t.samples.get(outcome)
        if bucket:
            lines.append(f"{outcome} samples:")
            lines += [f"  {n:>5} × {line}" for line, n in bucket.most_common(6 if outcome == CLEAR else 10)]
    return "\n".join(lines)


def _sum_served(served: list[dict[str, int]]) -> Counter:
    total: Counter = Counter()
    for s in served:
        total.update(s)
    return total


def short_line(report: LoadReport) -> str:
    """One run in one line: what the comparison of process counts prints."""
    t, m = report.tally, report.machine
    return (f"{len(report.parts) or 1} proc  {report.throughput():6.1f} answered/s  p95 all "
            f"{report.percentile(0.95) * 1000:5.0f} ms, answered {report.percentile(0.95, True) * 1000:5.0f} ms  "
            f"rows {report.usage_rows} {'=' if report.usage_rows == report.attempts else '≠'} attempts "
            f"{report.attempts}  lost {report.lost_rows}  other {t.total(OTHER)}  wrong {t.total(WRONG)}  "
            f"stragglers {report.stragglers}"
            + (f"  | load {m.loadavg_start:.1f}→{m.loadavg_end:.1f}, busy {m.busy_cores:.2f}/{m.cpus} cores, "
               f"bench {m.bench_cores:.2f}" + (f", db {m.db_cores:.2f}" if m.db_cores is not None else "")
               if m else "")
            + (f"; {per_cpu:.1f} answered per CPU-second" if (per_cpu := report.answered_per_cpu_second()) else ""))


def one_run(spec: LoadSpec, server: str | None, name: str) -> LoadReport:
    """One run in a temporary directory; on a fresh database of `server` when a PostgreSQL URL is given."""
    fresh = fresh_postgres_database(server) if server else contextlib.nullcontext(None)
    with quiet_streamlit(), tempfile.TemporaryDirectory(prefix=f"spaces-os-load-{name}-") as workdir, \
            fresh as db:
        report = run_load(dataclasses.replace(spec, db=db), workdir)
        gc.collect()     # the AppTest sessions' leftovers, while their warnings are still filtered
    return report


def _bad(report: LoadReport) -> bool:
    return bool(report.tally.total(OTHER) or report.locked_errors or report.sentinel_files or report.lost_rows
                or report.usage_rows != report.attempts)


def compare_processes(base: LoadSpec, server: str | None, counts: list[int], repeat: int) -> list[LoadReport]:
    """The faults phase once per process count, `repeat` times interleaved (1, 2, 1, 2…) so a change in
    the machine's other load falls on both; prints each run, then the throughput ratios."""
    rounds: list[dict[int, LoadReport]] = []
    for rep in range(repeat):
        rounds.append({})
        for n in counts:
            report = one_run(dataclasses.replace(base, processes=n), server, f"{n}proc")
            print(summary(report, f"run {rep + 1}, {n} process{'es' if n > 1 else ''}"), flush=True)
            rounds[-1][n] = report
    print(f"== process counts compared ({'PostgreSQL' if server else 'SQLite'}, {base.seconds:.0f} s, "
          f"faults {base.fail_rate:.0%})")
    for rep, by_count in enumerate(rounds):
        for report in by_count.values():
            print(f"  run {rep + 1}: " + short_line(report))
    first = counts[0]
    for n in counts[1:]:
        ratios = [r[n].throughput() / r[first].throughput() for r in rounds if r[first].throughput()]
        print(f"== throughput, {n} processes vs {first}: " + ", ".join(f"{x:.2f}×" for x in ratios)
              + (f"; median {statistics.median(ratios):.2f}×" if ratios else ""))
        per_cpu = [r[n].answered_per_cpu_second() / r[first].answered_per_cpu_second() for r in rounds
                   if r[n].answered_per_cpu_second() and r[first].answered_per_cpu_second()]
        if per_cpu:
            print(f"== answered per CPU-second, {n} processes vs {first}: " + ", ".join(f"{x:.2f}×" for x in per_cpu)
                  + f"; median {statistics.median(per_cpu):.2f}×")
    return [report for by_count in rounds for report in by_count.values()]


def main(argv: list[str] | None = None) -> int:
    if argv is None and sys.argv[1:] == ["--part"]:
        return part_main()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--apptests", type=int, default=5)
    parser.add_argument("--fail-rate", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="10 s, 10 sessions")
    parser.add_argument("--no-baseline", action="store_true", help="skip the 0 %% faults phase")
    parser.add_argument("--hosted", type=int, metavar="RPM", default=None,
                        help="hosted mode with a real budget: RPM requests a minute per visitor on the shared keys")
    parser.add_argument("--db", metavar="URL", default=None,
                        help="a PostgreSQL server (postgresql://user@host:port/any_db): each run creates a fresh "
                             "database there and drops it afterwards. Default: a temporary SQLite file")
    parser.add_argument("--processes", type=int, nargs="+", metavar="N", default=None,
                        help="run the faults phase once per N, the sessions split across N OS processes (each its "
                             "own Router, Manager and Store, as replicas), and print the throughput ratios")
    parser.add_argument("--repeat", type=int, default=1, help="with --processes: how many times to run each N")
    args = parser.parse_args(argv)
    if args.db and not is_postgres_url(args.db):
        parser.error(f"--db takes a postgresql:// URL of a server where this user may create databases, not "
                     f"{args.db!r}; without --db the bench uses a temporary SQLite file")
    if args.processes and (min(args.processes) < 1 or args.repeat < 1):
        parser.error("--processes and --repeat take whole numbers of at least 1")
    if args.quick:
        args.seconds, args.sessions = 10.0, 10
    if args.db:
        from core.store.postgres import redacted  # psycopg is needed only then

        where = f"PostgreSQL at {redacted(args.db)}, a fresh database per run"
    else:
        where = "a temporary SQLite file"
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs; servers in a child process; {where}", flush=True)
    base = LoadSpec(seconds=args.seconds, sessions=args.sessions, apptests=args.apptests, fail_rate=args.fail_rate,
                    seed=args.seed, hosted_rpm=args.hosted, processes=1)
    if args.processes:
        return 1 if any(map(_bad, compare_processes(base, args.db, args.processes, args.repeat))) else 0
    reports = {}
    phases = [("faults", args.fail_rate)] + ([] if args.no_baseline else [("baseline", 0.0)])
    for name, rate in phases:
        reports[name] = one_run(dataclasses.replace(base, fail_rate=rate), args.db, name)
        print(summary(reports[name], name), flush=True)
    if "baseline" in reports:
        f, b = reports["faults"], reports["baseline"]
        print(f"== faults vs baseline: throughput {f.throughput():.1f} / {b.throughput():.1f} answered/s = "
              f"{f.throughput() / b.throughput():.2f}×; p95 (all) {f.percentile(0.95) * 1000:.0f} / "
              f"{b.percentile(0.95) * 1000:.0f} ms = {f.percentile(0.95) / b.percentile(0.95):.1f}×; "
              f"p95 (answered) {f.percentile(0.95, True) * 1000:.0f} / {b.percentile(0.95, True) * 1000:.0f} ms = "
              f"{f.percentile(0.95, True) / b.percentile(0.95, True):.1f}×")
    return 1 if any(map(_bad, reports.values())) else 0


if __name__ == "__main__":
    sys.exit(main())
