"""Remote MCP servers in Chat, against a real MCP server process built with the official SDK
(`tests/mcp_test_server.py`: `word_count` is read-only, `write_note` appends to a file and is not).

The config's `mcp_servers:` section is validated when it loads; the servers' tools join the chat agent
named by server; a read-only one runs from the Chat page, the other waits for the user's approval;
a dead server is a readable status on the Spaces page's MCP tab and Chat goes on without it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.app.views.chat import wants_tools
from core.errors import ConfigError
from core.llm.config import load_config
from core.tools.mcp_client import AsyncRunner, mcp_server_configs
from core.tools.remote import SHARED_LISTS, ToolListCache, remote_tools, server_names
from tests.fake_hub import FakeHub
from tests.fake_openai import Reply
from tests.test_mcp import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "Home.py")
NOTEBOOK_TOKEN = "notebook-token-000000001"


class Notebook:
    def __init__(self, url: str, notes: Path):
        self.url, self.notes = url, notes

    def written(self) -> list[str]:
        return self.notes.read_text().splitlines() if self.notes.exists() else []


@pytest.fixture(scope="module")
def notebook(tmp_path_factory):
    """`python tests/mcp_test_server.py PORT NOTES TOKEN`: a real MCP server process on 127.0.0.1."""
    notes = tmp_path_factory.mktemp("notebook") / "notes.txt"
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "mcp_test_server.py"), str(port), str(notes),
                             NOTEBOOK_TOKEN], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_port(port, proc)
        yield Notebook(f"http://127.0.0.1:{port}/mcp", notes)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def dead_url() -> str:
    return f"http://127.0.0.1:{free_port()}/mcp"


def config_with(notebook: Notebook, dead_url: str | None = None) -> dict:
    servers = {"notebook": {"url": notebook.url, "token": "${NOTEBOOK_TOKEN}", "timeout": 5}}
    if dead_url:
        servers["gone"] = {"url": dead_url, "timeout": 2}
    return {"mcp_servers": servers}


# --------------------------------------------------------------------------- config


def test_a_broken_mcp_servers_section_is_a_config_error_with_file_line_and_key(tmp_path):
    path = tmp_path / "agentic-config.yaml"
    path.write_text("openrouter:\n  api_key: k\nmcp_servers:\n  search:\n    url: https://mcp.example.org/mcp\n"
                    "    tokn: abc\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert info.value.path == "mcp_servers.search.tokn" and info.value.line == 6
    assert str(info.value) == (f"{path}, line 6 at `mcp_servers.search.tokn`: unknown setting `tokn`; expected "
                               "url, token, timeout (HTTP) or command, args, env, timeout (stdio)")


@pytest.mark.parametrize(("section", "path", "words"), [
    (["a"], "mcp_servers", "must be a mapping"),
    ({"bad name!": {"url": "https://x.org/mcp"}}, "mcp_servers.bad name!", "a server name is a letter"),
    ({"hf": {"url": "https://x.org/mcp"}}, "mcp_servers.hf", "pick another name"),
    ({"x": "https://x.org/mcp"}, "mcp_servers.x", "must be a mapping with a `url`"),
    ({"x": {"token": "t"}}, "mcp_servers.x", "needs a `url`"),
    ({"x": {"url": "ftp://x.org"}}, "mcp_servers.x.url", "must be an http(s) URL"),
    ({"x": {"url": "https://x.org/mcp", "timeout": 0}}, "mcp_servers.x.timeout", "number of seconds"),
    ({"x": {"url": "https://x.org/mcp", "timeout": True}}, "mcp_servers.x.timeout", "number of seconds"),
    ({"x": {"url": "https://x.org/mcp", "token": 12}}, "mcp_servers.x.token", "must be a string"),
])
def test_each_kind_of_broken_mcp_servers_section_names_its_key(section, path, words):
    with pytest.raises(ConfigError) as info:
        load_config({"mcp_servers": section}, env={})
    assert info.value.path == path and words in str(info.value)


def test_servers_come_from_the_hf_mcp_url_and_the_mcp_servers_section():
    config = load_config({"huggingface": {"mcp_url": "https://huggingface.co/mcp", "token": "hf_sharedkey12345"},
                          "mcp_servers": {"search": {"url": "https://mcp.example.org/mcp",
                                                     "token": "${SEARCH_TOKEN}", "timeout": 4}}},
                         env={"SEARCH_TOKEN": "s3cret"})
    hf, search = mcp_server_configs(config, hf_token="hf_sessionkey1234")
    assert (hf.name, hf.url, hf.token) == ("hf", "https://huggingface.co/mcp", "hf_sessionkey1234")
    assert (search.name, search.url, search.token, search.timeout) == ("search", "https://mcp.example.org/mcp",
                                                                       "s3cret", 4.0)
    assert "s3cret" not in repr(search) and "s3cret" not in repr(config)
    assert mcp_server_configs(config)[0].token is None, "the shared HF key is not used unless asked"
    assert mcp_server_configs(config, use_shared_hf_token=True)[0].token == "hf_sharedkey12345"
    assert server_names(config) == ["hf", "search"]


# --------------------------------------------------------------------------- tools named by server


class CountingRunner(AsyncRunner):
    """The real runner, counting how often it is asked to reach the servers."""

    calls = 0

    def run(self, coro, timeout):
        self.calls += 1
        return super().run(coro, timeout)


def test_remote_tools_are_named_by_server_keep_the_read_only_hint_and_are_cached(notebook, dead_url):
    config = load_config(config_with(notebook, dead_url), env={"NOTEBOOK_TOKEN": NOTEBOOK_TOKEN})
    runner = CountingRunner()
    remote = remote_tools(config, runner=runner)

    tools = {t.name: t for t in remote.tools}
    assert sorted(tools) == ["notebook.word_count", "notebook.write_note"]
    assert not tools["notebook.word_count"].mutating and tools["notebook.write_note"].mutating
    assert tools["notebook.word_count"].handler(text="one two three") == {"result": 3}
    notebook_status, gone = remote.statuses
    assert (notebook_status.available, sorted(notebook_status.tools)) == (True, ["word_count", "write_note"])
    assert not gone.available
    assert gone.reason == f"gone: cannot connect to {dead_url[7:-4]}: the server is down or the URL is wrong"

    probes = runner.calls
    again = remote_tools(config, runner=runner)
    assert runner.calls == probes, "the second page run takes the tool lists from the cache"
    assert [t.name for t in again.tools] == [t.name for t in remote.tools]
    remote_tools(config, runner=runner, refresh=True)
    assert runner.calls == probes + 1


def test_a_sessions_own_hf_token_reaches_the_hf_server_and_its_tool_list_stays_in_that_session(notebook):
    config = load_config({"huggingface": {"mcp_url": notebook.url}}, env={})
    mine, theirs = ToolListCache(), ToolListCache()

    remote = remote_tools(config, session_hf_token=NOTEBOOK_TOKEN, session_cache=mine)
    assert {t.name for t in remote.tools} == {"hf.word_count", "hf.write_note"}
    other = remote_tools(config, session_cache=theirs)
    assert other.tools == [] and other.statuses[0].reason == "hf: needs a token (HTTP 401); set one for `hf`"

    [server] = mcp_server_configs(config, hf_token=NOTEBOOK_TOKEN)
    assert mine.get(server) is not None and theirs.get(server) is None and SHARED_LISTS.get(server) is None
    assert NOTEBOOK_TOKEN not in repr(SHARED_LISTS._entries)


def test_hosted_a_server_reached_with_the_owners_token_offers_only_its_read_only_tools(notebook):
    config = load_config(config_with(notebook), env={"NOTEBOOK_TOKEN": NOTEBOOK_TOKEN})
    assert [t.name for t in remote_tools(config, hosted=True).tools] == ["notebook.word_count"]


def test_a_prompt_naming_a_configured_server_asks_for_tools():
    assert wants_tools("ask notebook to count the words in 'a b c'", ["notebook"])
    assert not wants_tools("ask notebook to count the words in 'a b c'")
    assert not wants_tools("what is a notebook computer?", ["gone"])


# --------------------------------------------------------------------------- from the Chat page


@pytest.fixture
def console(monkeypatch, tmp_path, fake, notebook):
    """The console in `tmp_path` with a config: the fake model server, the notebook and a dead server."""
    dead = f"http://127.0.0.1:{free_port()}/mcp"
    (tmp_path / "agentic-config.yaml").write_text(
        f"local:\n  url: {fake.url}\n  api_key: k-local\n"
        f"mcp_servers:\n  notebook:\n    url: {notebook.url}\n    token: ${{NOTEBOOK_TOKEN}}\n"
        f"  gone:\n    url: {dead}\n    timeout: 2\n")
    monkeypatch.setenv("NOTEBOOK_TOKEN", NOTEBOOK_TOKEN)
    monkeypatch.delenv("AGENTIC_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    with FakeHub() as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        st.cache_resource.clear()
        yield dead
        st.cache_resource.clear()


def call(name: str, arguments: dict, call_id: str = "c1") -> Reply:
    return Reply(tool_calls=[{"id": call_id, "type": "function",
                              "function": {"name": name, "arguments": json.dumps(arguments)}}])


def open_chat() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30).run()
    at.switch_page("pages/chat.py").run()
    assert not at.exception, at.exception
    return at


def chat(at: AppTest, text: str) -> AppTest:
    at.chat_input[0].set_value(text).run()
    assert not at.exception, at.exception
    return at


def test_a_read_only_remote_tool_is_called_from_chat(console, fake, notebook):
    fake.queue(call("notebook_word_count", {"text": "one two three"}), Reply("There are 3 words."))
    at = chat(open_chat(), "ask notebook how many words are in 'one two three'")

    offered = {t["function"]["name"] for t in fake.chat_requests[0].body["tools"]}
    assert {"notebook_word_count", "notebook_write_note", "search_models"} <= offered
    assert not any(name.startswith("gone") for name in offered)
    assert json.loads(fake.chat_requests[1].body["messages"][-1]["content"]) == {"ok": True, "result": {"result": 3}}
    assistant = at.chat_message[-1]
    assert "notebook.word_count" in assistant.expander[0].label and "→ ok" in assistant.expander[0].label
    assert assistant.markdown[-1].value == "There are 3 words."
    assert not any("wants to change something" in w.value for w in at.warning)


def test_a_mutating_remote_tool_waits_for_the_users_approval(console, fake, notebook):
    fake.queue(call("notebook_write_note", {"text": "buy milk"}), Reply("Noted: buy milk."))
    at = chat(open_chat(), "ask notebook to write the note 'buy milk'")

    assert any("wants to change something" in w.value and "notebook.write_note" in w.value for w in at.warning)
    assert "buy milk" not in notebook.written(), "nothing ran before the approval"
    assert len(fake.chat_requests) == 1
    at.button(key="tool_approve").click().run()
    assert not at.exception, at.exception
    assert notebook.written().count("buy milk") == 1
    assert at.chat_message[-1].markdown[-1].value == "Noted: buy milk."


def test_a_dead_server_shows_a_readable_status_and_chat_keeps_working(console, fake, notebook):
    dead = console
    at = AppTest.from_file(APP, default_timeout=30).run()
    at.session_state["spaces_tab"] = "MCP"
    at.switch_page("pages/spaces.py").run()
    assert not at.exception, at.exception
    status = next(d.value for d in at.dataframe if "Status" in d.value.columns).set_index("Server")
    assert status.loc["notebook", "Status"] == "🟢 connected" and status.loc["notebook", "Tools"] == 2
    assert status.loc["gone", "Status"] == (f"🔴 cannot connect to {dead[7:-4]}: the server is down or the URL "
                                            "is wrong")
    assert status.loc["gone", "Tools"] == 0
    assert "notebook.write_note" in set(at.table[0].value["Tool"])

    fake.queue(Reply("The gone server is not available right now."))
    at = chat(open_chat(), "ask gone to list its files")
    assert at.chat_message[-1].markdown[-1].value == "The gone server is not available right now."
    assert "notebook_word_count" in {t["function"]["name"] for t in fake.chat_requests[0].body["tools"]}


def test_the_config_without_servers_says_how_to_add_one(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AGENTIC_CONFIG", raising=False)
    with FakeHub() as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        st.cache_resource.clear()
        at = AppTest.from_file(APP, default_timeout=30).run()
        at.session_state["spaces_tab"] = "MCP"
        at.switch_page("pages/spaces.py").run()
        st.cache_resource.clear()
    assert not at.exception, at.exception
    assert any("`mcp_servers:`" in i.value for i in at.info)
    assert "future MCP server" not in " ".join(c.value for c in at.caption)
