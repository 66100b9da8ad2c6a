"""LiteLLM as a client of the console's OpenAI-compatible API: `litellm.completion(model="openai/…",
api_base=…/v1, api_key=sos_…)` against `streamlit run Home.py`, non-streaming and streaming.

LiteLLM cannot be installed beside the app (every release needs huggingface_hub<2; the app pins 2.4.0), so
it runs in its own venv (bench/requirements.txt), which `.ci/run` creates and names in
SPACES_OS_LITELLM_PYTHON (default /tmp/litellm-venv/bin/python). Without it these tests skip with the
command that installs it, except under CI=true, where that is a failure.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from core.app.gateway.tokens import TokenService, TokenSpec
from core.llm.keys import session_hash
from core.store import Store
from tests.browser import streamlit_server
from tests.fake_openai import FakeOpenAI, model_answer

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "litellm_client.py"
SHARED = "shared-litellm-upstream-key"
INSTALL = ("python3 -m venv /tmp/litellm-venv && /tmp/litellm-venv/bin/pip install -r bench/requirements.txt "
           "(.ci/run does it)")


def litellm_python() -> str:
    """The venv interpreter that has LiteLLM, or a skip (a failure under CI=true) saying how to install it."""
    python = os.environ.get("SPACES_OS_LITELLM_PYTHON") or "/tmp/litellm-venv/bin/python"
    probe = "import importlib.util, sys; sys.exit(0 if importlib.util.find_spec('litellm') else 1)"
    found = os.path.exists(python) and subprocess.run([python, "-c", probe], capture_output=True,
                                                      timeout=60).returncode == 0
    if found:
        return python
    missing = f"no LiteLLM for {python}: {INSTALL}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"LiteLLM client tests cannot run: {missing}")
    pytest.skip(f"LiteLLM client tests skipped: {missing}")


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    """A console whose one provider is a local OpenAI-compatible upstream with a shared key, and a token."""
    python = litellm_python()
    upstream = FakeOpenAI().start()
    folder = tmp_path_factory.mktemp("litellm_client")
    config, db = folder / "agentic-config.yaml", folder / "console.db"
    config.write_text(f"local:\n  url: {upstream.url}\n  api_key: {SHARED}\n  models: [fake-model]\n")
    store = Store(str(db))
    issued = TokenService(store).create(TokenSpec("litellm", ("chat",)))
    try:
        with streamlit_server({"SPACES_OS_DB": str(db), "AGENTIC_CONFIG": str(config), "HF_TOKEN": "",
                               "OPENROUTER_API_KEY": "", "OPENROUTER_KEY": ""}) as base:
            done = subprocess.run([python, str(SCRIPT), base + "/v1", issued.token, "local/fake-model"],
                                  capture_output=True, text=True, timeout=180, cwd=folder,
                                  env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"})
            assert done.returncode == 0, done.stderr[-3000:]
            yield json.loads(done.stdout.strip().splitlines()[-1]), upstream, store, issued
    finally:
        upstream.stop()
        store.close()


def test_litellm_completion_through_the_gateway(console):
    seen, upstream, _, _ = console
    reply = seen["completion"]
    assert reply["text"] == model_answer([{"role": "user", "content": "hello from litellm"}])
    assert reply["model"].endswith("fake-model") and reply["finish_reason"] == "stop"
    assert reply["usage"] == [7, 5, 12]
    sent = [r for r in upstream.chat_requests if r.body["messages"][-1]["content"] == "hello from litellm"]
    assert len(sent) == 1 and sent[0].headers["authorization"] == f"Bearer {SHARED}"
    assert sent[0].body["model"] == "fake-model"        # `local/fake-model` pinned our provider `local`


def test_litellm_stream_through_the_gateway(console):
    seen, upstream, _, _ = console
    stream = seen["stream"]
    assert stream["text"] == model_answer([{"role": "user", "content": "stream from litellm"}])
    assert stream["chunks"] > 5                          # relayed chunk by chunk, not one buffered block
    assert stream["usage"] == [7, 5, 12] and stream["finish_reason"] == "stop"
    assert any(r.body.get("stream") for r in upstream.chat_requests)


def test_litellm_raises_its_authentication_error_for_an_unknown_token(console):
    refused = console[0]["unknown_token"]
    assert refused["raised"] == "AuthenticationError" and refused["status"] == 401
    assert "unknown, revoked or expired" in refused["message"]


def test_litellm_calls_are_recorded_under_the_token(console):
    _, _, store, issued = console
    session = session_hash(issued.grant.identity)
    deadline = time.time() + 5
    while len(rows := [r for r in store.usage_rows() if r["session"] == session]) < 2 and time.time() < deadline:
        time.sleep(0.1)                                  # the console's usage writer is a background thread
    assert [(r["provider"], r["outcome"], r["key_source"]) for r in rows] == [("local", "ok", "shared")] * 2
