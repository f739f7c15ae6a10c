"""DRF API of django_civic."""
