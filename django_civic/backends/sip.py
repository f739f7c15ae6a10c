class CivicSIPBackend:
    """Placeholder until implemented."""
