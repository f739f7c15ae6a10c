"""Sandbox: idemia part."""
