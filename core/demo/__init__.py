"""The offline demo model's knowledge of the console: build-agent answers and tool plans. Injected into
the demo provider by the composition root, so `core.llm` never imports what sits above it."""

from core.demo.builds import build_agent_answer
from core.demo.tools import demo_tool_turn
from core.llm.providers.demo import DemoResponders, install_responders


def install() -> None:
    """Teach the demo provider the build agent's prompts and the chat tools (idempotent)."""
    install_responders(DemoResponders(answer=build_agent_answer, tool_turn=demo_tool_turn))
