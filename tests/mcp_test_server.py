"""A small third-party MCP server for the tests, built with the official SDK only (nothing from `core`).

    python tests/mcp_test_server.py PORT NOTES_FILE [TOKEN]
    python tests/mcp_test_server.py --stdio NOTES_FILE

Serves Streamable HTTP at http://127.0.0.1:PORT/mcp with two tools:
- `word_count(text)`, marked `readOnlyHint`;
- `write_note(text)`, not marked read-only: it appends a line to NOTES_FILE, so a test can see whether it ran.
On stdio it has two more:
- `take_items(count)`: a negative count is answered with a JSON-RPC error (-32602), not a tool result;
- `wait(seconds)`: sleeps, and appends "wait cancelled" to NOTES_FILE when the client cancels it.
With TOKEN, every request must carry `Authorization: Bearer TOKEN` (else HTTP 401).
"""

from __future__ import annotations

import sys
from pathlib import Path

import anyio
import uvicorn
from mcp import MCPError
from mcp.server.mcpserver import MCPServer
from mcp_types import ToolAnnotations
from starlette.responses import JSONResponse


def build(notes: Path, *, stdio_tools: bool = False) -> MCPServer:
    server = MCPServer("notebook")

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    def word_count(text: str) -> int:
        """Count the words in a text."""
        return len(text.split())

    @server.tool()
    def write_note(text: str) -> str:
        """Append a note to the notebook (changes state)."""
        with notes.open("a", encoding="utf-8") as f:
            f.write(text + "\n")
        return f"noted: {text}"

    if stdio_tools:
        add_stdio_tools(server, notes)
    return server


def add_stdio_tools(server: MCPServer, notes: Path) -> None:
    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    def take_items(count: int) -> str:
        """Take some items from the shelf."""
        if count < 0:
            raise MCPError(code=-32602, message=f"count must be 0 or more, got {count}")
        return f"took {count}"

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    async def wait(seconds: float) -> str:
        """Wait, then say so."""
        try:
            await anyio.sleep(seconds)
        except anyio.get_cancelled_exc_class():
            with notes.open("a", encoding="utf-8") as f:
                f.write("wait cancelled\n")
            raise
        return "waited"


def with_bearer(app, token: str):
    async def guarded(scope, receive, send):
        if scope["type"] == "http":
            auth = dict(scope["headers"]).get(b"authorization", b"").decode()
            if auth != f"Bearer {token}":
                await JSONResponse({"error": "invalid_token"}, status_code=401)(scope, receive, send)
                return
        await app(scope, receive, send)

    return guarded


def main(argv: list[str]) -> None:
    if argv[0] == "--stdio":
        build(Path(argv[1]), stdio_tools=True).run("stdio")
        return
    port, notes = int(argv[0]), Path(argv[1])
    app = build(notes).streamable_http_app(stateless_http=True, json_response=True)
    if len(argv) > 2:
        app = with_bearer(app, argv[2])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main(sys.argv[1:])
