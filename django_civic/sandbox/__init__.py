"""An offline emulator of Civic SIP, Civic Auth and IDEMIA IPA for development and tests.

Nothing here is imported by django_civic in production: it loads only when a URLconf includes
``django_civic.sandbox.urls``, when ``CIVIC["SANDBOX"]`` is on, or when tests use the pytest plugin.
"""
