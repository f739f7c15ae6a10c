"""``python -m bench.login_breakdown [--postgres]``: where the server CPU of one Civic login goes.

Not a row of the table: a profiling aid for row 4 (and row 5 with ``--postgres``: PostgreSQL and Redis
instead of in-memory SQLite and the local-memory cache). Runs returning-user logins through the site's
WSGI application, as row 4 does, with the steps of the login wrapped in CPU-time counters, and prints the
CPU per login of each step (steps nest: ``authenticate`` contains the pre-check, the exchange and
``record_identity``). The counters cost a few microseconds per step; compare steps, not the total with
row 4's figure.
"""

from __future__ import annotations

import argparse
import functools
import secrets
import time
from collections import Counter
from typing import Any

from django_civic.sandbox.testing import SandboxHandle

from . import django_env, processes, site
from .codes import mint_for_users

# (module, attribute, label): the steps of a Civic login through POST /civic/sip/exchange/.
STEPS = [
    ("django_civic.sip.api", "SIPExchangeView.post", "view (everything below)"),
    ("django_civic.sip.api", "SIPExchangeView.check_throttles", "throttle"),
    ("django_civic.sip.api", "check_login_csrf", "login CSRF check"),
    ("django_civic.sip.api", "sip_exchange_input", "body validation"),
    ("django_civic.sip.api", "authenticate", "authenticate (backend, below)"),
    ("django_civic.protocols.sip.client", "SIPClient.check_auth_code", "  pre-check of the auth code"),
    ("django_civic.sip.backend", "consume_once", "  single-use mark"),
    ("django_civic.protocols.sip.client", "SIPClient.exchange_code", "  SIP exchange (client side)"),
    ("django_civic.sip.backend", "record_identity", "  record_identity"),
    ("django_civic.sip.api", "login_response", "login_response (below)"),
    ("django_civic.api.login", "django_login", "  django.contrib.auth.login"),
]


def _wrap(counter: Counter[str], module_name: str, attribute: str, label: str) -> None:
    import importlib

    owner: Any = importlib.import_module(module_name)
    *path, name = attribute.split(".")
    for part in path:
        owner = getattr(owner, part)
    original = getattr(owner, name)

    @functools.wraps(original)
    def counted(*args: Any, **kwargs: Any) -> Any:
        start = time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            counter[label] += time.process_time() - start

    setattr(owner, name, counted)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.login_breakdown", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL and Redis, as row 5's servers")
    parser.add_argument("--logins", type=int, default=300)
    args = parser.parse_args()
    people = 20
    with processes.sandbox() as sandbox:
        handle = SandboxHandle(sandbox.info["base_url"])
        if args.postgres:
            django_env.setup(database="postgres", schema="bench_login", cache="redis", sandbox_url=handle.url)
        else:
            site.start(handle.url)
        counter: Counter[str] = Counter()
        for step in STEPS:
            _wrap(counter, *step)
        user_ids = [secrets.token_hex(32) for _ in range(people)]
        codes = iter(mint_for_users(handle, [user_ids[i % people] for i in range(people + 2 * args.logins)],
                                    persona="alice"))
        server = site.WSGICaller()
        for _ in range(people + args.logins):  # sign-ups, then a warm-up of returning logins
            server.civic_login(next(codes))
        counter.clear()
        start = time.process_time()
        for _ in range(args.logins):
            server.civic_login(next(codes))
        total = (time.process_time() - start) / args.logins
    print(f"CPU per returning Civic login: {total * 1e3:.2f} ms (whole WSGI request)")
    for _module, _attribute, label in STEPS:
        print(f"  {label:34s} {counter[label] / args.logins * 1e3:6.3f} ms")


if __name__ == "__main__":
    main()
