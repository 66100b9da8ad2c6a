"""Fault and load bench: many sessions against three local providers that fail at random.

    python bench/load.py                    # 60 s, 50 sessions + 5 AppTest sessions, 30 % faults; then 0 %
    python bench/load.py --quick            # 10 s, 10 sessions
    python bench/load.py --seconds 30 --sessions 20 --fail-rate 0.3 --apptests 5 --seed 7

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

`run_load(LoadSpec(...))` is also what tests/test_resilience.py runs, for a shorter time.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import os
import random
import re
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.agent.manager import Manager  # noqa: E402
from core.errors import PLAIN_WORDS, AllProvidersFailed, StreamInterrupted  # noqa: E402
from core.llm.budget import Budget, HostedSettings  # noqa: E402
from core.llm.router import Router  # noqa: E402
from core.store import Store  # noqa: E402
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
        if message and outcome != ANSWERED:
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
        self.budget_refusals += other.budget_refusals
        for outcome, bucket in other.samples.items():
            self.samples.setdefault(outcome, Counter()).update(bucket)

    def total(self, outcome: str | None = None, op: str | None = None) -> int:
        return sum(n for (o, out), n in self.counts.items()
                   if (outcome is None or out == outcome) and (op is None or o == op))


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

    @property
    def attempts(self) -> int:
        return self.attempts_direct + self.attempts_tasks

    @property
    def requests(self) -> int:
        return self.tally.total()

    def throughput(self) -> float:
        """Answered requests per second over the load window."""
        return self.tally.total(ANSWERED) / self.spec.seconds

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
    """Run the load for `spec.seconds` in `workdir` (it holds the config and the database) and report.

    Changes the process's working directory and SPACES_OS_DB for the run (the app's services read
    both) and restores them; clears Streamlit's resource cache before and after."""
    import streamlit as st

    from core.app import widgets

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    db_path = workdir / "spaces_os.db"
    sentinels = tuple(spec.sentinels)
    old_cwd, old_db = os.getcwd(), os.environ.get("SPACES_OS_DB")
    with fault_servers(spec) as (urls, server_reports), watching_logs(sentinels) as logs:
        (workdir / "agentic-config.yaml").write_text(config_text(urls, spec))
        os.chdir(workdir)
        os.environ["SPACES_OS_DB"] = str(db_path)
        st.cache_resource.clear()
        store = Store(db_path)
        router = Router.from_config(workdir / "agentic-config.yaml", db=store, budget=Budget(
            store, HostedSettings(enabled=True, requests_per_minute=spec.hosted_rpm or 100_000,
                                  tokens_per_day=10**9, usd_per_day=10**6)))
        manager = Manager(router, workers=1)
        app_store: Store | None = None
        try:
            if spec.apptests:
                _warm_up_app(spec)      # imports and services built before the first RSS reading
            gc.collect()
            rss_start, blocks_start = rss_mb(), sys.getallocatedblocks()
            tallies = [Tally() for _ in range(spec.sessions + spec.apptests)]
            started = time.monotonic()
            stop_at = started + spec.seconds
            threads = [threading.Thread(target=drive_session, name=f"load-{i}", daemon=True,
                                        args=(i, spec, router, manager, stop_at, tallies[i]))
                       for i in range(spec.sessions)]
            threads += [threading.Thread(target=drive_apptest, name=f"apptest-{i}", daemon=True,
                                         args=(i, spec, stop_at, tallies[spec.sessions + i]))
                        for i in range(spec.apptests)]
            samples: list[tuple[float, float, float]] = []
            sampler = threading.Thread(target=_sample, args=(samples, db_path, started, stop_at, spec.seconds / 6),
                                       daemon=True)
            sampler.start()
            for t in threads:
                t.start()
            join_until = stop_at + spec.drain_seconds
            for t in threads:
                t.join(max(0.0, join_until - time.monotonic()))
            stragglers = sum(t.is_alive() for t in threads)
            ended = time.monotonic()
            if spec.apptests:
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
            counts = _count_rows(db_path)
            write_errors = store.write_errors + (app_store.write_errors if app_store else [])
            files_hit, files_scanned = scan_for_sentinels(workdir, sentinels)
        finally:
            os.chdir(old_cwd)
            if old_db is None:
                os.environ.pop("SPACES_OS_DB", None)
            else:
                os.environ["SPACES_OS_DB"] = old_db
    st.cache_resource.clear()
    store.close()
    if app_store is not None:
        app_store.close()
    served = [dict(r.get("served", {})) for r in server_reports]
    sentinel_requests = sum(n for r in server_reports for k, n in r.get("keys_seen", {}).items() if k in sentinels)
    messages = [m for bucket in tally.samples.values() for m in bucket]
    locked = sum(LOCKED in e for e in write_errors) + sum(LOCKED in m for m in messages) + logs.locked
    return LoadReport(
        spec=spec, tally=tally, seconds=ended - started, drain_seconds=max(0.0, ended - stop_at),
        rss_start_mb=rss_start, rss_end_mb=rss_end, rss_peak_mb=rss_peak, py_blocks=(blocks_start, blocks_end),
        usage_rows=counts["usage"], usage_rows_direct=counts["usage_direct"], usage_rows_tasks=counts["usage_tasks"],
        attempts_direct=tally.attempts, attempts_tasks=counts["task_attempts"], write_errors=write_errors,
        locked_errors=locked, sentinel_files=files_hit, sentinel_log_records=logs.sentinel,
        sentinel_requests=sentinel_requests, files_scanned=files_scanned, served=served,
        outcomes_by_kind=counts["by_outcome"], skips=counts["skips"], samples=samples,
        max_shared_per_minute=counts["max_shared_per_minute"],
        stragglers=stragglers)


def _sample(samples: list[tuple[float, float, float]], db_path: Path, started: float, stop_at: float,
            every: float) -> None:
    wal = Path(f"{db_path}-wal")
    while True:
        now = time.monotonic()
        samples.append((now - started, rss_mb(), wal.stat().st_size / 1e6 if wal.exists() else 0.0))
        if now >= stop_at:
            return
        time.sleep(min(every, max(0.0, stop_at - now)))


def _max_shared_requests_per_minute(conn: sqlite3.Connection) -> int:
    """The most requests any one session sent on the shared keys within any 60 s (a sliding window over
    each request's first shared attempt): what the hosted per-minute budget promises to bound."""
    starts: dict[str, list[float]] = {}
    for session, ts in conn.execute("SELECT session, min(ts) FROM usage WHERE key_source = 'shared' "
                                    "AND session IS NOT NULL GROUP BY session, request_id"):
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


def _count_rows(db_path: Path) -> dict[str, Any]:
    """Usage rows, and the attempts the tasks' decision log says were made (read-only, own connection)."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    try:
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
    finally:
        conn.close()


# ---------------------------------------------------------------- output

def summary(report: LoadReport, title: str) -> str:
    t = report.tally
    lines = [f"== {title}: {report.spec.sessions} sessions + {report.spec.apptests} AppTest sessions, "
             f"{report.spec.seconds:.0f} s, faults {report.spec.fail_rate:.0%}",
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
        f"requests/s (drain {report.drain_seconds:.1f} s, stragglers {report.stragglers})",
        f"usage rows         {report.usage_rows} vs attempts {report.attempts}  (router calls: "
        f"{report.usage_rows_direct} rows vs {report.attempts_direct} attempts; tasks: {report.usage_rows_tasks} "
        f"rows vs {report.attempts_tasks} attempts); right after flush(): {t.flush_checks - t.flush_short} of "
        f"{t.flush_checks} checked requests complete",
        f"database locked    {report.locked_errors}   (write errors: {len(report.write_errors)})",
        f"shared-key budget  {t.budget_refusals} requests refused with 'used up'; most shared requests of one "
        f"session in any 60 s: {report.max_shared_per_minute}"
        + (f" (limit {report.spec.hosted_rpm})" if report.spec.hosted_rpm else " (no real limit)"),
        f"sentinel key       {len(report.sentinel_files)} files of {len(report.files_scanned)} scanned ("
        + ", ".join(f"{name} {size / 1e6:.1f} MB" for name, size in report.files_scanned.items())
        + f"), {report.sentinel_log_records} log records; "
        f"{report.sentinel_requests} requests carried it to a provider",
        f"RSS                start {report.rss_start_mb:.1f} MB, end {report.rss_end_mb:.1f} MB "
        f"(growth {report.rss_end_mb - report.rss_start_mb:+.1f} MB, peak {report.rss_peak_mb:.1f} MB); during: "
        + ", ".join(f"{t:.0f} s {mb:.0f}" for t, mb, _ in report.samples),
        f"Python heap        {report.py_blocks[0]:,} → {report.py_blocks[1]:,} allocated blocks after gc "
        f"({report.py_blocks[1] - report.py_blocks[0]:+,})",
        "WAL file during    " + ", ".join(f"{t:.0f} s {wal:.0f} MB" for t, _, wal in report.samples),
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


def main(argv: list[str] | None = None) -> int:
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
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.sessions = 10.0, 10
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs; servers in a child process", flush=True)
    reports = {}
    phases = [("faults", args.fail_rate)] + ([] if args.no_baseline else [("baseline", 0.0)])
    for name, rate in phases:
        spec = LoadSpec(seconds=args.seconds, sessions=args.sessions, apptests=args.apptests, fail_rate=rate,
                        seed=args.seed, hosted_rpm=args.hosted)
        with quiet_streamlit(), tempfile.TemporaryDirectory(prefix=f"spaces-os-load-{name}-") as workdir:
            reports[name] = run_load(spec, workdir)
            gc.collect()     # the AppTest sessions' leftovers, while their warnings are still filtered
        print(summary(reports[name], name), flush=True)
    if "baseline" in reports:
        f, b = reports["faults"], reports["baseline"]
        print(f"== faults vs baseline: throughput {f.throughput():.1f} / {b.throughput():.1f} answered/s = "
              f"{f.throughput() / b.throughput():.2f}×; p95 (all) {f.percentile(0.95) * 1000:.0f} / "
              f"{b.percentile(0.95) * 1000:.0f} ms = {f.percentile(0.95) / b.percentile(0.95):.1f}×; "
              f"p95 (answered) {f.percentile(0.95, True) * 1000:.0f} / {b.percentile(0.95, True) * 1000:.0f} ms = "
              f"{f.percentile(0.95, True) / b.percentile(0.95, True):.1f}×")
    bad = any(r.tally.total(OTHER) or r.locked_errors or r.sentinel_files or r.usage_rows != r.attempts
              for r in reports.values())
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
