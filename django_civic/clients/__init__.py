"""Build the protocol clients from settings (sandbox-aware)."""
