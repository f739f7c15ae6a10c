"""django_civic's models: verified identities and attributes (``identity.py``), proofing sessions (``proofing.py``)."""
