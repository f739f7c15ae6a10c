"""django_civic: verified identity for Django with Civic (SIP and Civic Auth) and IDEMIA identity proofing."""

__version__ = "0.1.0"
