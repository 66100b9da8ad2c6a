"""Database failures in plain words: every sqlite3 (or psycopg) error leaves the store as a `StoreError`, and the store
keeps count of what it could not write, so a failing disk shows up on Home instead of in a traceback.

    try:
        store.create_task(prompt="hi")
    except StoreError as e:            # e.kind: read_only | disk_full | corrupt | locked | io_error | …
        shown = str(e)                 # "The database file is read-only at data/spaces_os.db. What to do: …"
    store.health()                     # StoreHealth(ok=False, lost_rows=3, lost_by_kind={'disk_full': 3}, …)

`translated` wraps the `Store` facade's methods (the only way SQL is reached), so no caller sees sqlite3.*
nor psycopg.*. On PostgreSQL a refused or lost connection is `unreachable`, a full disk `disk_full`, a
read-only server `read_only`, a lock or deadlock `locked`.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import sqlite3
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from core.errors import StoreError

log = logging.getLogger("spaces_os.store")

FAILING_FOR_S = 300.0      # a failure this recent (with no write since) keeps the health banner up

_KIND_BY_CODE = {           # sqlite3.Error.sqlite_errorname prefixes (Python ≥ 3.11)
    "SQLITE_READONLY": "read_only",
    "SQLITE_FULL": "disk_full",
    "SQLITE_CORRUPT": "corrupt",
    "SQLITE_NOTADB": "corrupt",
    "SQLITE_BUSY": "locked",
    "SQLITE_LOCKED": "locked",
    "SQLITE_CANTOPEN": "cannot_open",
    "SQLITE_IOERR": "io_error",
    "SQLITE_PERM": "read_only",
}
_KIND_BY_TEXT = (           # the message, for errors raised without a code (e.g. by sqlite-utils)
    ("readonly", "read_only"), ("read-only", "read_only"), ("disk is full", "disk_full"),
    ("not a database", "corrupt"), ("malformed", "corrupt"), ("locked", "locked"),
    ("unable to open", "cannot_open"), ("disk i/o error", "io_error"),
)


_KIND_BY_SQLSTATE = {        # PostgreSQL error classes and codes (Appendix A of its manual)
    "08": "unreachable", "57P": "unreachable", "53100": "disk_full", "25006": "read_only", "42501": "read_only",
    "55P03": "locked", "40P01": "locked", "58": "io_error", "XX001": "corrupt", "XX002": "corrupt",
}


def store_error(error: Exception, path: str) -> StoreError:
    """The plain-words StoreError for one sqlite3 or psycopg error on the database at `path`."""
    if not isinstance(error, sqlite3.Error):
        state = getattr(error, "sqlstate", None) or ""
        kind = next((k for prefix, k in _KIND_BY_SQLSTATE.items() if state.startswith(prefix)), None)
        if kind is None and (_pool_timeout is not None and isinstance(error, _pool_timeout)
                             or type(error).__name__ == "OperationalError"):
            kind = "unreachable"          # no connection to be had: the server is down or refusing us
        return StoreError(kind or "failed", path, f"{type(error).__name__}: {error}")
    code = getattr(error, "sqlite_errorname", None) or ""
    kind = next((k for prefix, k in _KIND_BY_CODE.items() if code.startswith(prefix)), None)
    if kind is None:
        text = str(error).lower()
        kind = next((k for needle, k in _KIND_BY_TEXT if needle in text), "failed")
    return StoreError(kind, path, f"{type(error).__name__}: {error}")


@dataclass
class StoreHealth:
    """What Home's database line says: `ok`, rows lost (and why), and the latest failure if recent."""

    path: str
    ok: bool
    lost_rows: int = 0
    lost_by_kind: dict[str, int] = field(default_factory=dict)
    last_error: str | None = None

    @property
    def message(self) -> str | None:
        """One line for a banner, or None when all is well."""
        parts = []
        if self.last_error:
            parts.append(self.last_error)
        if self.lost_rows:
            why = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in sorted(self.lost_by_kind.items()))
            parts.append(f"{self.lost_rows} usage row(s) could not be written since the app started ({why}); "
                         "the Metrics page undercounts them.")
        return " ".join(parts) or None


class FailureLog:
    """Mixed into `core.store.Store`: counts lost usage rows by kind and remembers the latest failure."""

    def _init_failures(self) -> None:
        self._failure_lock = threading.Lock()
        self._lost_by_kind: Counter[str] = Counter()
        self._last_failure: tuple[float, StoreError] | None = None

    def _note_failure(self, error: StoreError) -> None:
        with self._failure_lock:
            self._last_failure = (time.time(), error)

    def _note_lost_rows(self, n: int, error: BaseException) -> None:
        kind = error.kind if isinstance(error, StoreError) else "failed"
        with self._failure_lock:
            self._lost_by_kind[kind] += n
        log.error("usage writer: %d row(s) lost: %s", n, error)

    def _note_success(self) -> None:
        if self._last_failure is not None:
            with self._failure_lock:
                self._last_failure = None

    @property
    def lost_rows(self) -> int:
        return sum(self._lost_by_kind.values())

    def health(self) -> StoreHealth:
        """Reads the file once (a corrupt or vanished file shows at once) and reports lost rows; never raises."""
        with contextlib.suppress(StoreError):       # noted by the wrapper
            self.schema_version()
        with self._failure_lock:
            lost = dict(self._lost_by_kind)
            failure = self._last_failure
        recent = failure is not None and time.time() - failure[0] < FAILING_FOR_S
        return StoreHealth(self.path, ok=not recent and not lost, lost_rows=sum(lost.values()), lost_by_kind=lost,
                           last_error=str(failure[1]) if recent else None)


# Failures of the file, the disk or the lock. IntegrityError (a broken constraint) and ProgrammingError (a
# misused API) are bugs in the caller, not database failures: they stay as they are.
_BUGS: tuple[type[BaseException], ...] = (sqlite3.IntegrityError, sqlite3.ProgrammingError, sqlite3.InterfaceError)
_DB_ERRORS: tuple[type[BaseException], ...] = (sqlite3.Error,)
_pool_timeout: type[BaseException] | None = None
try:        # psycopg is installed for the PostgreSQL backend; without it only SQLite errors can happen
    import psycopg
    import psycopg_pool
except ImportError:     # pragma: no cover - requirements.txt installs it
    pass
else:
    _BUGS += (psycopg.IntegrityError, psycopg.ProgrammingError, psycopg.InterfaceError, psycopg.DataError)
    _pool_timeout = psycopg_pool.PoolTimeout
    _DB_ERRORS += (psycopg.Error, psycopg_pool.PoolTimeout)


def _wrap(method: Any) -> Any:
    @functools.wraps(method)
    def call(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except _BUGS:
            raise
        except _DB_ERRORS as e:
            error = store_error(e, getattr(self, "path", "?"))
            if hasattr(self, "_failure_lock"):
                self._note_failure(error)
            raise error from e
    return call


def _wrap_generator(method: Any) -> Any:
    @functools.wraps(method)
    def call(self, *args: Any, **kwargs: Any) -> Any:
        try:
            yield from method(self, *args, **kwargs)
        except _BUGS:
            raise
        except _DB_ERRORS as e:
            error = store_error(e, getattr(self, "path", "?"))
            self._note_failure(error)
            raise error from e
    return call


# Not wrapped: they hand out connections or only touch the writer thread's queue.
_UNWRAPPED = {"db", "transaction", "flush", "close", "record_attempts", "health"}


def translated(cls: type) -> type:
    """Wrap every method of `cls` that can reach SQLite so a sqlite3.Error leaves as a StoreError."""
    for name, member in inspect.getmembers(cls, inspect.isfunction):
        if name in _UNWRAPPED or (name.startswith("__") and name != "__init__"):
            continue
        if name.startswith("_") and name not in ("__init__", "_insert_usage"):
            continue
        wrap = _wrap_generator if inspect.isgeneratorfunction(member) else _wrap
        setattr(cls, name, wrap(member))
    return cls

