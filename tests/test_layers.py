"""The layers hold: importing the router loads nothing from the layers above it, nor Streamlit, and
the import-linter contract (the one CI runs) is kept."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(statement: str) -> set[str]:
    """Every module a fresh interpreter imports for `statement`, read from `-X importtime`."""
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", statement], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    return {line.split("|")[-1].strip() for line in out.stderr.splitlines() if "|" in line}


def test_importing_the_router_loads_no_build_hub_tools_agent_or_streamlit_module():
    loaded = imported_modules("import core.router")
    assert "core.llm.router" in loaded
    above = sorted(m for m in loaded if m.split(".")[:2] in (["core", "hub"], ["core", "build"], ["core", "tools"],
                                                            ["core", "agent"], ["core", "app"], ["core", "demo"]))
    assert above == []
    assert not any(m == "streamlit" or m.startswith("streamlit.") for m in loaded)


def test_manager_entry_point_still_works():
    loaded = imported_modules("from core.manager import Manager; from core.router import Router")
    assert "core.agent.manager" in loaded


def test_import_linter_contracts_are_kept():
    out = subprocess.run(["lint-imports"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-2000:]
    assert "0 broken" in out.stdout
