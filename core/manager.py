"""Stable entry point for scripts: `from core.manager import Manager` (it lives in `core.agent.manager`)."""

from core.agent.manager import Manager

__all__ = ["Manager"]
