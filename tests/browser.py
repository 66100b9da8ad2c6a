"""Shared pieces for the real-browser tests: Debian Chromium driven by Playwright against `streamlit run`.

No `playwright install`: the browser is /usr/bin/chromium. Without it the tests skip with a reason,
except under CI=true, where a missing browser is a failure.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage"]


def require_browser():
    """The playwright sync API, or a skip (a failure under CI=true) naming what is missing."""
    missing = None
    if not os.path.exists(CHROMIUM):
        missing = "Debian chromium is not installed (apt-get install -y chromium)"
    try:
        from playwright import sync_api
    except ImportError:
        missing = missing or "the playwright package is not installed (pip install -r requirements-test.txt)"
        sync_api = None
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests cannot run: {missing}")
        pytest.skip(f"browser tests skipped: {missing}")
    return sync_api


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BaseURL(str):
    """The server's base URL, which also knows the server's process group (`pgid`), e.g. to stop it early,
    and the file its output goes to (`log`), e.g. to check what it logged."""
    pgid: int
    log: Path


@contextmanager
def streamlit_server(env: dict[str, str]) -> Iterator[BaseURL]:
    """`streamlit run Home.py` on a free 127.0.0.1 port, in its own process group; yields the base URL."""
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="streamlit-", suffix=".log", delete=False)  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "Home.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = BaseURL(f"http://127.0.0.1:{port}")
    base.pgid = proc.pid
    base.log = Path(log.name)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if urllib.request.urlopen(base + "/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.2)
            if proc.poll() is not None:
                break
        else:
            pytest.fail("streamlit did not start in 60 s:\n" + Path(log.name).read_text()[-2000:])
        if proc.poll() is not None:
            pytest.fail("streamlit exited:\n" + Path(log.name).read_text()[-2000:])
        yield base
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


@contextmanager
def browser_page(sync_api) -> Iterator:
    with sync_api.sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            tempfile.mkdtemp(prefix="chromium-profile-"), executable_path=CHROMIUM, headless=True, args=ARGS,
            viewport={"width": 1400, "height": 1000})
        try:
            yield ctx.pages[0] if ctx.pages else ctx.new_page()
        finally:
            ctx.close()


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def no_exception_boxes(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, page.locator(
        '[data-testid="stException"]').first.inner_text()


MENU_LINKS = '[data-testid="stSidebar"] [data-testid="stPageLink-NavLink"]'     # the console's menu (Home.py)


def nav(page, title: str) -> None:
    page.locator(MENU_LINKS, has_text=title).first.click()


RUNNING = '[data-testid="stStatusWidgetRunningIcon"]'     # shown while a script run is under way


def wait_idle(page, *, quiet_ms: int = 800, timeout_s: float = 60.0) -> None:
    """Until no script run has been under way for `quiet_ms`. Text typed while a rerun is in flight can be
    replaced when the rerun's elements arrive (a person sees the app "Running…" and waits too). The
    running icon appears only after a run has lasted a moment, hence the quiet period."""
    quiet_since = None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        now = time.monotonic()
        if page.locator(RUNNING).count():
            quiet_since = None
        elif quiet_since is None:
            quiet_since = now
        elif now - quiet_since >= quiet_ms / 1000:
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"the app was still running after {timeout_s:.0f} s")
