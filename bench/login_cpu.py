"""Row 4: server CPU per Civic SIP login through the exchange endpoint, against a Django password login.

Measured: ``POST /civic/sip/exchange/`` through the site's WSGI application in this process, called as a
server calls it (the whole server path: middleware, DRF view, CSRF and throttle checks, pre-check,
single-use mark, SIP exchange, identities service, session login, in-memory SQLite whose CPU counts
too) for a returning user, with the benchmark site's session store (the cache; the details repeat the
measurement with Django's default, the database). The sandbox runs in another process, so its CPU is not
counted. Codes are minted beforehand.
Reference: a password login through the same server path (``bench.urls.password_login``: Django's
``authenticate(username=..., password=...)`` with the default hasher, PBKDF2-SHA256 at Django's default
iteration count, not the fast MD5 hasher tests use, then ``login()``). Target: at most 1/40.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from django_civic.sandbox.testing import SandboxHandle

from . import Options, log, processes, site
from .codes import mint_for_users
from .measure import per_op, side_by_side
from .results import RowResult, Target

KEY = "login_cpu"
TITLE = "Server CPU per Civic SIP login (exchange endpoint)"
TARGET = Target("<=", 1 / 40, "at most 1/40")
DATABASE_SESSIONS = "django.contrib.sessions.backends.db"


def run(options: Options) -> RowResult:
    rounds = options.pick(9, 2)
    batch = options.pick(12, 2)
    people = options.pick(40, 4)
    db_rounds = max(2, rounds // 3)
    with processes.sandbox() as sandbox:
        handle = SandboxHandle(sandbox.info["base_url"])
        site.start(handle.url)

        from django.conf import settings
        from django.contrib.auth import get_user_model
        from django.contrib.auth.hashers import get_hasher
        from django.test.utils import override_settings

        hasher = get_hasher()
        user_ids = [secrets.token_hex(32) for _ in range(people)]
        needed = people + (rounds + 3 * db_rounds) * batch + 2
        log(f"{KEY}: minting {needed} auth codes for {people} people")
        codes = iter(mint_for_users(handle, [user_ids[i % people] for i in range(needed)], persona="alice"))
        password = secrets.token_urlsafe(16)
        get_user_model().objects.create_user("password-person", password=password)
        # Context for the reader: Django's own session login, with no credential checked at all.
        from .urls import BARE_LOGIN_USERNAME

        get_user_model().objects.create_user(BARE_LOGIN_USERNAME)

        Login = Callable[[], None]

        def logins(server: site.WSGICaller) -> tuple[Login, Login, Login]:
            def civic_login() -> None:
                body = server.civic_login(next(codes))
                assert not body["user_created"], "a measured login was a sign-up"

            def password_login() -> None:
                status, _ = server.post_json(
                    "/bench/password-login/", {"username": "password-person", "password": password})
                assert status.startswith("200"), status

            def bare_login() -> None:
                status, _ = server.post_json("/bench/bare-session-login/", {})
                assert status.startswith("200"), status

            return civic_login, password_login, bare_login

        server = site.WSGICaller()
        for _ in range(people):  # first logins (sign-ups) of everyone; the measured ones are returning
            server.civic_login(next(codes))
        civic_login, password_login, bare_login = logins(server)

        log(
            f"{KEY}: {rounds} rounds of {batch} Civic logins vs 1 password login ({hasher.algorithm}, "
            f"{getattr(hasher, 'iterations', '?')} iterations), sessions in {settings.SESSION_ENGINE}"
        )
        result = side_by_side(lambda: per_op(civic_login, batch), lambda: per_op(password_login, 1), rounds)
        bare = side_by_side(lambda: per_op(bare_login, batch), lambda: per_op(civic_login, batch), db_rounds)

        # The same with Django's default session store, the database: a site's choice that costs every
        # login alike (a password login too), reported beside the row's figure.
        with override_settings(SESSION_ENGINE=DATABASE_SESSIONS):
            db_civic, db_password, db_bare = logins(site.WSGICaller())
            db_result = side_by_side(
                lambda: per_op(db_civic, batch), lambda: per_op(db_password, 1), db_rounds
            )
            db_bare_result = side_by_side(
                lambda: per_op(db_bare, batch), lambda: per_op(db_civic, batch), db_rounds)

    return RowResult.cpu_side_by_side(
        KEY,
        TITLE,
        result,
        unit="ms",
        target=TARGET,
        details={
            "password_hasher": settings.PASSWORD_HASHERS[0],
            "iterations": getattr(hasher, "iterations", None),
            "session_engine": settings.SESSION_ENGINE,
            "login": "returning user, session mode, 2 attributes (alice, BASIC_SIGNUP)",
            "bare_django_session_login_ms": round(bare.measured_median * 1e3, 2),
            "bare_session_login_share_of_civic_login": round(bare.ratio, 2),
            "with_database_sessions": {
                "civic_login_ms": round(db_result.measured_median * 1e3, 2),
                "password_login_ms": round(db_result.reference_median * 1e3, 1),
                "ratio": round(db_result.ratio, 5),
                "bare_django_session_login_ms": round(db_bare_result.measured_median * 1e3, 2),
            },
        },
    )
