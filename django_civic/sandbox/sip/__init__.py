"""Sandbox: sip part."""
