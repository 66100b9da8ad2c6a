"""Home's database line (core/store/probe.py → core/app/views/home.py → core/app/widgets.py): which backend,
where (never a password), the schema version and whether the database answers, and in plain words when it
does not; and the Providers page's caveat that cooldowns are per process when replicas are possible."""

from __future__ import annotations

import contextlib
import socket
import threading
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.app.views.home import database_line
from core.app.views.providers import breaker_scope_note
from core.store import MIGRATIONS, DatabaseProbe, Store
from tests.test_hosted_db_failures import corrupt

APP = str(Path(__file__).resolve().parents[1] / "Home.py")


def test_the_probe_names_the_backend_where_and_the_schema_version(db_url):
    store = Store(db_url)
    probe = store.probe()
    assert probe.answers and probe.problem is None
    assert (probe.schema_version, probe.known_version) == (len(MIGRATIONS), len(MIGRATIONS))
    assert probe.latency_ms is not None and probe.latency_ms >= 0
    if store.dialect == "sqlite":
        assert (probe.backend, probe.where) == ("SQLite", str(Path(db_url).resolve()))
    else:
        url = urlsplit(db_url)
        assert (probe.backend, probe.where) == ("PostgreSQL", f"{url.username}@{url.hostname}:{url.port}{url.path}")
    store.close()


def test_a_postgresql_password_never_reaches_the_line(pg_schema_url):
    url = urlsplit(pg_schema_url)     # the test server trusts local users, so any password connects
    with_password = urlunsplit(url._replace(netloc=f"{url.username}:pw-Secret-42@{url.hostname}:{url.port}"))
    store = Store(with_password)
    answers, line = database_line(store.probe())
    assert answers and "pw-Secret-42" not in line and f"{url.hostname}:{url.port}{url.path}" in line
    store.close()


def test_a_corrupt_sqlite_file_is_said_in_plain_words(db_path):
    store = Store(db_path)
    corrupt(db_path)
    probe = store.probe()
    assert not probe.answers and probe.schema_version is None
    answers, line = database_line(probe)
    assert not answers
    assert line.startswith("**Database not answering:** SQLite") and "corrupt" in line and "What to do" in line


class Relay:
    """A TCP relay to the PostgreSQL server that can be cut: what a replica sees when the server goes away."""

    def __init__(self, host: str, port: int):
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)

    def cut(self) -> None:
        self.listener.close()
        for s in self.sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()


def test_a_postgresql_server_that_went_away_is_said_in_plain_words_within_the_timeout(pg_schema_url):
    url = urlsplit(pg_schema_url)
    relay = Relay(url.hostname, url.port)
    store = Store(urlunsplit(url._replace(netloc=f"{url.username}@127.0.0.1:{relay.port}")))
    assert store.probe().answers
    relay.cut()
    probe = store.probe(timeout=1.0)
    answers, line = database_line(probe)
    assert not answers and probe.latency_ms is None
    assert f"PostgreSQL · `{url.username}@127.0.0.1:{relay.port}{url.path}`" in line
    assert "server cannot be reached" in line and "What to do" in line
    store.close()


def test_the_line_says_when_another_replica_migrated_the_database_further():
    newer = DatabaseProbe("PostgreSQL", "app@db:5432/sos", True, 0.42, 9, 8)
    assert database_line(newer) == (True, "🗄️ Database: PostgreSQL · `app@db:5432/sos` · schema v9 (this console "
                                          "knows v8: another replica runs newer code; update this one) · answered "
                                          "in 0.4 ms")


def test_the_breaker_caveat_is_for_a_shared_postgresql_database_only():
    assert breaker_scope_note("sqlite") is None
    assert "per console process" in breaker_scope_note("postgresql")


@pytest.fixture
def fresh_app(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    st.cache_resource.clear()
    yield tmp_path
    st.cache_resource.clear()


def test_home_shows_the_database_line(fresh_app, db_path, monkeypatch):
    monkeypatch.setenv("SPACES_OS_DB", db_path)
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    line = next(c.value for c in at.caption if c.value.startswith("🗄️ Database:"))
    assert f"SQLite · `{Path(db_path).resolve()}` · schema v{len(MIGRATIONS)} · answered in" in line
    at.switch_page("pages/providers.py").run()
    assert not any("per console process" in c.value for c in at.caption)     # one SQLite file: no caveat
