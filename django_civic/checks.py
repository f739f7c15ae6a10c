"""System checks (django_civic.E001...)."""
