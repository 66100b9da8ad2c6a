"""Spaces OS's MCP server, startable from any folder (MCP clients such as Claude Desktop start it from theirs):

    python3 /path/to/spaces-os/mcp_server.py                  # stdio
    python3 /path/to/spaces-os/mcp_server.py --http 8765      # Streamable HTTP, bearer token

The same as `python -m core.app.mcp_server` run inside the project; see core/app/mcp_server.py.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))     # `core` imports from any working directory

from core.app.mcp_server import main  # noqa: E402 - needs the path above

if __name__ == "__main__":
    sys.exit(main())
