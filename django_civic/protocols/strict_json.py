"""JSON from another party, read strictly: UTF-8 only (RFC 8259; ``json.loads`` would also take bytes as
UTF-16 or UTF-32) and no lone surrogates (RFC 7493 2.1). ``"\\ud800"`` is valid JSON but no Unicode text:
it breaks every later ``encode()``, ``compare_digest`` and database write of the string (a userinfo
``sub`` of one was a 500), so it is refused here, once, where the text is read.
"""

from __future__ import annotations

import json
import re
from typing import Any

# Only a \u escape can make a lone surrogate (as raw bytes it is no UTF-8): without one, nothing to check.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_DECODER = json.JSONDecoder()


def loads(data: bytes | bytearray, decoder: json.JSONDecoder = _DECODER) -> Any:
    """The JSON value of ``data``. Raises ``ValueError`` (not UTF-8, not JSON, a lone surrogate) or
    ``RecursionError`` (absurdly nested)."""
    text = data.decode("utf-8")
    value = decoder.decode(text)
    if _SURROGATE_ESCAPE.search(text):
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    return value
