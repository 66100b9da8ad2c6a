"""Tools for the chat agent: the registry of Hub tools, the agent loop with its confirmation gate, and
the client for remote MCP servers."""
