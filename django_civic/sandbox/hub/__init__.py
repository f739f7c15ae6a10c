"""The sandbox's stand-in for Civic's hub (``{base}hub/mcp``): an MCP endpoint over streamable HTTP."""
