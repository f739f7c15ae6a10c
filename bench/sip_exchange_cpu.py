"""Row 1: client CPU per SIP code exchange, against the raw cryptography it needs.

Measured: ``SIPClient.exchange_code(code, claims=...)`` against the sandbox running in another process,
so only the client's CPU counts (this process's ``process_time``): partner JWT signing, the ``ext``
HMAC, the HTTP round trip, verifying Civic's data token, decrypting and parsing the attributes.
The local pre-check of the browser's auth code (``check_auth_code``) is a separate step that the
backend runs before its replay check; it is reported in the details, against a bare verification. So is
the floor's cryptography after a bare socket round trip (a client with no code of its own).

Reference: ES256 sign + ES256 verify + HMAC-SHA256 + AES-CBC decrypt with ``cryptography``, on inputs of
the real sizes (``bench.crypto_floor``). Target: at most 3x.
"""

from __future__ import annotations

from contextlib import closing

from django_civic.protocols.sip.crypto import compact_json
from django_civic.sandbox.testing import SandboxHandle

from . import Options, log, processes
from .codes import mint, signed_exchanges
from .crypto_floor import CryptoFloor, RawRoundTrips
from .measure import per_op, side_by_side
from .results import RowResult, Target

KEY = "sip_exchange_cpu"
TITLE = "Client CPU per SIP code exchange"
TARGET = Target("<=", 3.0, "at most 3x")


def run(options: Options) -> RowResult:
    rounds = options.pick(40, 3)
    batch = options.pick(10, 2)
    warmup = options.pick(20, 2)
    with processes.sandbox() as sandbox:
        handle = SandboxHandle(sandbox.info["base_url"])
        sip = sandbox.info["sip"]
        client = handle.sip_client(timeout=10.0)

        log(f"{KEY}: minting {rounds * batch + warmup + 2} auth codes")
        codes = mint(handle, rounds * batch + warmup + 2)
        # A real data token and request body, to give the floor inputs of the real sizes.
        sample_code = codes.pop()
        request_body = {"authToken": sample_code, "allowS3UploadedPayload": True}
        response = handle.sip_post(request_body)
        response.raise_for_status()
        floor = CryptoFloor(
            app_private_key=sip["private_key"],
            app_secret=sip["app_secret"],
            civic_public_key=sip["civic_public_key"],
            data_token=response.json()["data"],
            request_body=compact_json(request_body).encode("utf-8"),
            audience=sip["api_url"],
        )
        # The pre-check happens before the exchange in the real flow; do it outside the measurement.
        prechecked = [(code, client.check_auth_code(code)) for code in codes]
        check_sample = prechecked.pop()[0]

        pending = iter(prechecked)

        def exchange_one() -> None:
            code, claims = next(pending)
            data = client.exchange_code(code, claims=claims)
            assert data.attributes, "the exchange returned no attributes"

        for _ in range(warmup):
            exchange_one()
        log(f"{KEY}: {rounds} rounds of {batch} exchanges vs {batch * 5} floors")
        result = side_by_side(
            lambda: per_op(exchange_one, batch), lambda: per_op(floor.exchange, batch * 5), rounds
        )
        precheck = side_by_side(
            lambda: per_op(lambda: client.check_auth_code(check_sample), batch * 2),
            lambda: per_op(floor.verify, batch * 2),
            max(3, rounds // 4),
        )
        # Context: a client with no code of its own, the floor's cryptography after a bare round trip of
        # a pre-signed exchange over a kept-alive socket. What is left between this and the floor is
        # the network wait itself (system calls, and code that runs cold after it), not the client.
        context_rounds = max(3, rounds // 4)
        exchanges = signed_exchanges(handle, sip, mint(handle, context_rounds * batch))
        with closing(RawRoundTrips(exchanges)) as round_trip:

            def bare_client() -> None:
                round_trip()
                floor.exchange()

            context = side_by_side(
                lambda: per_op(bare_client, batch), lambda: per_op(floor.exchange, batch * 5), context_rounds
            )

    parts = {name: per_op(getattr(floor, name), 200) * 1e6 for name in ("sign", "mac", "verify", "decrypt")}
    return RowResult.cpu_side_by_side(
        KEY,
        TITLE,
        result,
        unit="µs",
        target=TARGET,
        details={
            "floor_parts_us": {k: round(v, 1) for k, v in parts.items()},
            "precheck_us": round(precheck.measured_median * 1e6, 1),
            "precheck_vs_bare_verify": round(precheck.ratio, 2),
            "floor_after_a_raw_round_trip_vs_floor": round(context.ratio, 2),
            "payload_labels": "alice, BASIC_SIGNUP (2 attributes)",
        },
    )
