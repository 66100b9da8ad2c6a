"""The "How it works" page's words and snippets: what the manager does, the three scenarios to try, and
copyable snippets for the Python API, the MCP server and the HTTP API. Plain data, so a test can run the
Python snippet and parse the MCP config exactly as a reader would copy them.

    exec(PYTHON_SNIPPET)        # runs offline in demo mode (tests/test_console_truth.py does)
"""

from __future__ import annotations

MANAGER = (
    "Every message goes to the **manager agent**. It classifies the request (QUICK, COMPLEX or URGENT, with a "
    "confidence), picks a tier of model for it, and hands it to the **router**, which tries the providers in your "
    "priority order and falls back to the next one when a provider fails (rate limit, refused key, outage, "
    "timeout). Long work runs as a **background task**: if you ask something quick meanwhile, the manager "
    "**pauses** the task at a checkpoint, answers you first, then **resumes** it where it stopped. Every attempt "
    "is a usage row: the **Metrics** page draws them, the **Routing** page shows the decisions.")

SCENARIOS = (
    ("A quick question", "What is 2 + 2?",
     "Answered at once by a small, fast model. The line under the answer says which provider and model, the "
     "latency and the time to the first token."),
    ("A long analysis", "Write a detailed report on the pros and cons of microservices vs monolith architecture",
     "Classified COMPLEX: it starts as a background task with a card showing its progress. You can keep chatting."),
    ("A quick question while the analysis runs", "What is 12 * 7?",
     "The manager pauses the analysis at a checkpoint, answers this first, then resumes the analysis. The card "
     "and the conversation say so."),
)

PYTHON_SNIPPET = '''from core.app.services import build_services

svc = build_services()      # agentic-config.yaml or the environment; with no key, the offline demo model
result = svc.router.chat([{"role": "user", "content": "What is 2 + 2?"}])
print(result.provider, result.model, f"{result.latency_ms:.0f} ms")
print(result.text)

task = svc.manager.submit("Write a short report on caching")   # classified, routed, recorded
print(task.id, task.label, task.status)
'''

MCP_CONFIG = '''{
  "mcpServers": {
    "spaces-os": {
      "command": "python",
      "args": ["-m", "core.app.mcp_server"],
      "cwd": "/path/to/spaces-os",
      "env": {"HF_TOKEN": "hf_your_token"}
    }
  }
}
'''

MCP_HTTP = '''python -m core.app.mcp_server --http 8765      # Streamable HTTP at http://127.0.0.1:8765/mcp
# every request needs: Authorization: Bearer $SPACES_OS_MCP_TOKEN (printed at start when unset)
'''

HTTP_API_STATUS = ("**Coming:** a plain HTTP API (`POST /v1/chat` beside the console) is not there yet. Until "
                   "then, scripts use the Python API above, and other programs the MCP server over HTTP.")
