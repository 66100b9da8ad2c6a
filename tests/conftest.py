"""Shared fixtures: an isolated environment, a real SQLite file, a real local OpenAI-compatible server,
a controllable clock, and a log capture that the sentinel-key test reads at the end of the suite."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ.setdefault("HF_HUB_OFFLINE", "0")
os.environ["STREAMLIT_RUNNER_MAGIC_ENABLED"] = "false"   # as .streamlit/config.toml, which AppTest in a tmp cwd misses

from core import demo  # noqa: E402
from tests.backends import backend, db_url, pg_schema_url  # noqa: E402,F401 - fixtures for both store backends
from tests.fake_hub import FakeHub  # noqa: E402
from tests.fake_openai import FakeOpenAI  # noqa: E402

# Keys that must never be written anywhere. One looks like nothing in particular, so only the exact
# redaction (not the key-shape patterns) protects it; the other is a real-looking HF token.
SENTINEL_KEY = "SENTINEL-byok-9d1e2f3a4b5c6d7e"
SENTINEL_HF = "hf_SENTINELbyok0123456789abcdef"
CAPTURED_LOGS: list[str] = []
demo.install()   # the demo model answers the build agent and plans tools, as in the app


class _Capture(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            CAPTURED_LOGS.append(self.format(record))
        except Exception:
            CAPTURED_LOGS.append(str(record.msg))


def pytest_configure(config: pytest.Config) -> None:
    handler = _Capture(level=logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list) -> None:
    """The sentinel audit reads what the whole suite wrote, so it runs last."""
    last = [i for i in items if "test_zz_" in i.nodeid]
    items[:] = [i for i in items if "test_zz_" not in i.nodeid] + last


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    for name in ("HF_TOKEN", "OPENROUTER_API_KEY", "OPENROUTER_KEY", "AGENTIC_CONFIG", "SPACE_ID",
                 "HUGGING_FACE_HUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SPACES_OS_DB", str(tmp_path / "spaces_os.db"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))   # no saved token from the machine


_STARTED_FAKES: list[FakeOpenAI] = []


@pytest.fixture(autouse=True)
def _fresh_fakes() -> None:
    """Every test starts with the session's fake upstreams answering normally: a test that scripted
    401s must not decide what the next test's module-scoped console gets."""
    for server in _STARTED_FAKES:
        server.reset()


@pytest.fixture(scope="session")
def fake_server():
    server = FakeOpenAI().start()
    _STARTED_FAKES.append(server)
    yield server
    server.stop()


@pytest.fixture
def fake(fake_server: FakeOpenAI) -> FakeOpenAI:
    fake_server.reset()
    return fake_server


@pytest.fixture(scope="session")
def fake_server_b():
    server = FakeOpenAI().start()
    _STARTED_FAKES.append(server)
    yield server
    server.stop()


@pytest.fixture
def fake_b(fake_server_b: FakeOpenAI) -> FakeOpenAI:
    fake_server_b.reset()
    return fake_server_b


class FakeClock:
    """monotonic() plus whatever sleep() was asked for: backoffs and cooldowns without waiting."""

    def __init__(self) -> None:
        import time
        self._time = time
        self.offset = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self._time.monotonic() + self.offset

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.offset += seconds

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "spaces_os.db")


@pytest.fixture(scope="session")
def hub_server():
    """One fake Hub for the suite; `fake_hub` resets it for each test."""
    with FakeHub() as hub:
        yield hub


@pytest.fixture
def fake_hub(hub_server: FakeHub) -> FakeHub:
    """The fake Hub, reset, where SENTINEL_HF is alice's write token. A module that needs Spaces of
    its own overrides this fixture, asks for it by the same name and adds them."""
    hub_server.reset()
    hub_server.add_token(SENTINEL_HF, user="alice")
    return hub_server
