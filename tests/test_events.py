"""Decision-log event kinds are one enum: every emitter uses it, the store refuses anything else, and the
Routing page's kind filter offers every kind (it used to miss `tool_call`)."""

from __future__ import annotations

import ast
import time
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.agent.manager import Manager
from core.llm.router import Router
from core.store import Store
from core.store.event_kinds import EventKind
from core.tools.agent_loop import AgentLoop
from core.tools.registry import Tool, ToolRegistry

ROOT = Path(__file__).resolve().parents[1]
COMPLEX = "Write a detailed report comparing GPU cloud pricing across three providers, with a plan."
QUICK = "What's 2+2?"


def wait_until(predicate, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.01)
    raise AssertionError("condition not reached in time")


def test_routing_page_kind_filter_offers_every_event_kind(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)                 # no agentic-config.* from the checkout
    st.cache_resource.clear()
    try:
        at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=30).run()
        at.switch_page("pages/routing.py").run()
        assert not at.exception, at.exception
        offered = at.multiselect(key="log_kinds").options
    finally:
        st.cache_resource.clear()
    assert "tool_call" in offered
    assert offered == [kind.value for kind in EventKind]


def _kind_arguments(tree: ast.AST) -> list[tuple[ast.Call, ast.expr, set[str]]]:
    """(call, its kind argument, names typed `EventKind` in the functions around it) for each event call."""
    found: dict[int, tuple[ast.Call, ast.expr, set[str]]] = {}
    for func in [tree, *(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef))]:
        typed = {a.arg for a in getattr(getattr(func, "args", None), "args", [])
                 if isinstance(a.annotation, ast.Name) and a.annotation.id == "EventKind"}
        for node in ast.walk(func):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            position = {"log_event": 0, "_event": 1}.get(node.func.attr)
            if position is not None and len(node.args) > position:
                found.setdefault(id(node), (node, node.args[position], set()))[2].update(typed)
    return list(found.values())


def test_every_emitter_in_core_logs_an_event_kind_member_and_every_member_is_emitted():
    """Static check over core/: each `log_event(...)` / `_event(...)` names `EventKind.X` (or passes on a
    parameter typed `EventKind`), never a string; and every member is emitted somewhere."""
    emitted: set[str] = set()
    for path in sorted((ROOT / "core").rglob("*.py")):
        for call, kind, typed in _kind_arguments(ast.parse(path.read_text(encoding="utf-8"))):
            where = f"{path.relative_to(ROOT)}:{call.lineno}"
            if isinstance(kind, ast.Name) and kind.id in typed:
                continue
            assert isinstance(kind, ast.Attribute) and isinstance(kind.value, ast.Name) \
                and kind.value.id == "EventKind", f"{where} logs a kind that is not an EventKind member"
            assert kind.attr in EventKind.__members__, f"{where}: EventKind has no {kind.attr}"
            emitted.add(kind.attr)
    assert emitted == set(EventKind.__members__), "EventKind lists a kind nothing emits, or misses one"


def test_store_refuses_an_event_kind_outside_the_enum(db_path):
    store = Store(db_path)
    with pytest.raises(ValueError, match="not a valid EventKind"):
        store.log_event("tool_called", "a typo'd kind")
    store.log_event("tool_call", "a plain string that names a member is fine")
    assert [e["kind"] for e in store.events()] == ["tool_call"]


def test_a_manager_and_chat_agent_run_on_the_demo_provider_logs_only_enum_kinds(db_path):
    stale = Store(db_path).create_task(prompt=COMPLEX, status="running", label="COMPLEX",
                                       checkpoint={"messages": [{"role": "user", "content": COMPLEX}],
                                                   "partial_text": "", "provider": "demo", "model": "demo/deep-1"})
    router = Router.from_config({"demo": {"pace_ms": 8}}, db=db_path)
    manager = Manager(router)                   # finds the stale running task: recovered
    try:
        long_task = manager.submit(COMPLEX, session="ev")
        wait_until(lambda: len(manager.get(long_task.id).partial_text) > 50)
        manager.submit(QUICK, session="ev")     # interrupts the long task, which then resumes by itself
        assert manager.wait(long_task.id, timeout=30).status == "done"
        paused = manager.submit(COMPLEX, session="ev2")
        wait_until(lambda: manager.get(paused.id).partial_text)
        manager.pause(paused.id)
        manager.cancel(paused.id)
        manager.cancel(stale["id"])

        search = Tool("search_models", "Search models.", {"type": "object", "properties": {
            "query": {"type": "string"}, "task": {"type": "string"}}}, lambda **_: [{"id": "demo/model"}])
        result = AgentLoop(router, ToolRegistry([search])).run([{"role": "user", "content": "Find a sentiment model"}])
        assert [step.name for step in result.steps] == ["search_models"]
    finally:
        manager.shutdown(2)

    logged = {e["kind"] for e in router.store.events(limit=10_000)}
    assert logged <= {kind.value for kind in EventKind}
    assert {"recovered", "classified", "routed", "started", "interrupted", "checkpointed", "auto_resume",
            "resumed", "done", "paused", "cancelled", "tool_call"} <= logged
