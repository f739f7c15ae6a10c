"""System checks: civic_auth."""
