"""Row 8: peak memory while exchanging a 6 MB "processed" (S3) payload, against the payload's size.

The sandbox answers the exchange with Civic's large-payload variant (fault ``large_payload`` on channel
``sip.exchange``, option ``size``): a ``payloadUrl`` from which the client downloads the 6 MB data token,
verifies it, decrypts it and parses the attributes. Measured: the peak of Python allocations during
``exchange_code`` above what was allocated before (``tracemalloc``), the median of a few exchanges.
The details add the growth of the process's peak RSS over a first exchange run without tracemalloc.
Reference: the payload's size. Target: at most 4x.
"""

from __future__ import annotations

import gc
import resource
import statistics
import tracemalloc

from django_civic.sandbox.testing import SandboxHandle

from . import Options, log, processes
from .results import RowResult, Target

KEY = "payload_memory"
TITLE = "Peak memory exchanging a 6 MB processed payload"
TARGET = Target("<=", 4.0, "at most 4x")
PAYLOAD_BYTES = 6 * 1024 * 1024
MB = 1024 * 1024


def _maxrss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux


def run(options: Options) -> RowResult:
    size = options.pick(PAYLOAD_BYTES, 256 * 1024)
    runs = options.pick(3, 1)
    with processes.sandbox() as sandbox:
        handle = SandboxHandle(sandbox.info["base_url"])
        client = handle.sip_client(timeout=60.0)

        def exchange_large() -> int:
            """One exchange of a ``size``-byte processed payload; returns the number of attributes."""
            code = handle.mint_code("carol", "PROOF_OF_IDENTITY")["authToken"]
            claims = client.check_auth_code(code)
            handle.inject_fault("sip.exchange", "large_payload", size=size)
            gc.collect()
            data = client.exchange_code(code, claims=claims)
            return len(data.attributes)

        # A first exchange without tracemalloc: its growth of the peak RSS is a cross-check that
        # includes allocations tracemalloc cannot see (OpenSSL's, the allocator's slack).
        gc.collect()
        rss_before = _maxrss_bytes()
        attributes = exchange_large()
        rss_growth = _maxrss_bytes() - rss_before
        if attributes == 0:
            raise RuntimeError("the large-payload exchange returned no attributes")

        peaks = []
        tracemalloc.start()
        try:
            for number in range(runs):
                gc.collect()
                baseline, _ = tracemalloc.get_traced_memory()
                tracemalloc.reset_peak()
                exchange_large()
                _, peak = tracemalloc.get_traced_memory()
                peaks.append(peak - baseline)
                above = (peak - baseline) / MB
                log(f"{KEY}: exchange {number + 1}/{runs}: peak {above:.1f} MB above baseline")
        finally:
            tracemalloc.stop()

    peak = statistics.median(peaks)
    return RowResult.judged(
        KEY,
        TITLE,
        measured=peak / MB,
        measured_unit="MB peak",
        reference=size / MB,
        reference_unit="MB payload",
        ratio=peak / size,
        target=TARGET,
        details={
            "peaks_mb": [round(p / MB, 2) for p in peaks],
            "rss_peak_growth_mb_first_exchange": round(rss_growth / MB, 2),
            "attributes": attributes,
            "persona": "carol, PROOF_OF_IDENTITY",
        },
    )
