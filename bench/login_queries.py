"""Row 6: database queries per Civic login, with 2 attributes and with 12.

The same login through the exchange endpoint (Django's test client, queries counted with
``CaptureQueriesContext``), for a person who releases 2 verified attributes and one who releases 12, in
three situations: the first login (sign-up), a returning login with the same values, and a returning
login where every value changed. Measured: the count with 12 attributes; reference: with 2.
Target: equal counts in every situation (the ratio shown is the largest of the three).
"""

from __future__ import annotations

import secrets

from django_civic.sandbox.testing import SandboxHandle

from . import Options, log, processes, site
from .results import RowResult, Target

KEY = "login_queries"
TITLE = "Database queries per Civic login, 12 vs 2 attributes"
TARGET = Target("==", 1.0, "equal counts")

_LABELS = [
    "contact.personal.email",
    "contact.personal.phoneNumber",
    "documents.genericId.type",
    "documents.genericId.number",
    "documents.genericId.name",
    "documents.genericId.dateOfBirth",
    "documents.genericId.dateOfIssue",
    "documents.genericId.dateOfExpiry",
    "documents.genericId.country",
    "documents.genericId.image_md5",
    "verifications.levels.CIVIC:IAL1",
    "documents.genericId.issuer",
]


def attributes(count: int, version: str) -> list[dict[str, object]]:
    """``count`` verified attributes whose values depend on ``version`` (to make a login change them)."""
    return [
        {"label": label, "value": f"{label}-{version}", "isValid": True, "isOwner": True}
        for label in _LABELS[:count]
    ]


def run(options: Options) -> RowResult:
    with processes.sandbox() as sandbox:
        handle = SandboxHandle(sandbox.info["base_url"])
        site.start(handle.url)

        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext

        def queries(count: int, user_id: str, version: str) -> int:
            code = handle.mint_code(None, "BASIC_SIGNUP", data=attributes(count, version), userId=user_id)
            with CaptureQueriesContext(connection) as captured:
                site.civic_login(Client(), code["authToken"])
            return len(captured.captured_queries)

        counts: dict[str, dict[int, int]] = {}
        for count in (2, 12):
            person = secrets.token_hex(32)
            counts.setdefault("first login (sign-up)", {})[count] = queries(count, person, "a")
            counts.setdefault("returning, same values", {})[count] = queries(count, person, "a")
            counts.setdefault("returning, all values changed", {})[count] = queries(count, person, "b")
        log(f"{KEY}: {counts}")

    ratios = {situation: by_count[12] / by_count[2] for situation, by_count in counts.items()}
    worst = max(ratios, key=lambda situation: abs(ratios[situation] - 1))
    passed = all(by_count[12] == by_count[2] for by_count in counts.values())
    row = RowResult.judged(
        KEY,
        TITLE,
        measured=counts[worst][12],
        measured_unit="queries",
        reference=counts[worst][2],
        reference_unit="queries",
        ratio=ratios[worst],
        target=TARGET,
        details={
            "queries_by_situation": {
                s: {f"{n} attributes": q for n, q in c.items()} for s, c in counts.items()
            },
            "shown": worst,
            "note": "counts include BEGIN/COMMIT and the session's own queries",
        },
    )
    row.status = "pass" if passed else "fail"
    return row
