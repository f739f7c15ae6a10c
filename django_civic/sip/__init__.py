"""Civic SIP on the Django side: ``backend.py``, ``api.py`` (the exchange endpoint), ``urls.py``,
``checks.py``, ``client.py`` (the protocol client built from settings).

The protocol client itself lives in :mod:`django_civic.protocols.sip` (no Django); its public names are
importable from here too (``from django_civic.sip import SIPClient, SIPError``).
"""

from django_civic.protocols.sip import *  # noqa: F403
from django_civic.protocols.sip import __all__  # noqa: F401
