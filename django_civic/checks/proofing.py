"""System checks: proofing."""
