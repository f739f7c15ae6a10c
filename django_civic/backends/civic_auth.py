class CivicAuthBackend:
    """Placeholder until implemented."""
