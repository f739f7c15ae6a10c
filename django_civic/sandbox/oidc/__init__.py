"""Sandbox: oidc part."""
