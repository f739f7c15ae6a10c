"""System checks: core."""
