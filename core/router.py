"""Stable entry point for scripts: `from core.router import Router` (the router lives in `core.llm.router`)."""

from core.llm.router import Attempt, ChatResult, Router, Usage

__all__ = ["Attempt", "ChatResult", "Router", "Usage"]
