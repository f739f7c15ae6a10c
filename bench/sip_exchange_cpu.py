"""Row 3: client CPU per SIP code exchange, against Civic's own Node SDK.

Two clients exchange auth codes against the same sandbox (another process), one exchange after the other:

- django_civic's ``SIPClient.exchange_code(code)`` in this process (the pre-check of the code's signature,
  partner JWT, ``ext`` HMAC, the HTTP round trip through requests, verifying Civic's data token,
  decrypting and parsing the attributes): this process's CPU time around a batch;
- Civic's Node SDK, ``civic-sip-api`` 1.2.1 (``bench/node``, installed with ``npm ci``), in one long-lived
  ``node`` process (``bench/node/exchange.js``): its own CPU time (``process.cpuUsage()``, every thread)
  around a batch of the same size, so node's start-up is never counted (reported apart).

Batches alternate (A B B A ...) with codes minted beforehand. Measured: our CPU per exchange; reference:
the SDK's. Target: at least 30x less.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from django_civic.sandbox.testing import SandboxHandle

from . import Options, log, processes
from .codes import mint
from .measure import per_op, side_by_side
from .results import RowResult, Target

KEY = "sip_exchange_cpu"
TITLE = "Client CPU per SIP code exchange"
TARGET = Target("<=", 1 / 30, "at least 30x less")
NODE_DIR = Path(__file__).resolve().parent / "node"


def ensure_node_sdk() -> str:
    """``node``'s path, once ``npm ci`` has installed the pinned SDK in ``bench/node`` (if it had not)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        raise RuntimeError("node and npm are needed for row 3 (Civic's Node SDK)")
    if not (NODE_DIR / "node_modules" / "civic-sip-api" / "package.json").exists():
        log(f"{KEY}: npm ci in {NODE_DIR}")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True, timeout=600)
    return node


def node_version(node: str) -> dict[str, str]:
    sdk = json.loads((NODE_DIR / "node_modules" / "civic-sip-api" / "package.json").read_text())
    version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    return {"node": version, "civic-sip-api": sdk["version"]}


def run(options: Options) -> RowResult:
    rounds = options.pick(30, 2)
    batch = options.pick(10, 2)
    warmup = options.pick(20, 2)
    node = ensure_node_sdk()
    with processes.sandbox() as sandbox:
        handle = SandboxHandle(sandbox.info["base_url"])
        sip = sandbox.info["sip"]
        client = handle.sip_client(timeout=10.0)
        config = {
            "api": sip["api_url"],
            "env": sip["env"],
            "appId": sip["app_id"],
            "appSecret": sip["app_secret"],
            "prvKey": sip["private_key"],
            "civicPublicKey": sip["civic_public_key"],
        }
        needed = 2 * (rounds * batch + warmup)
        log(f"{KEY}: minting {needed} auth codes")
        codes = iter(mint(handle, needed))
        with processes.running(
            [node, str(NODE_DIR / "exchange.js"), json.dumps(config)], interactive=True, name="node SDK"
        ) as sdk:

            def node_batch(count: int) -> float:
                answer = sdk.ask(json.dumps([next(codes) for _ in range(count)]))
                if answer.get("exchanges") != count:
                    raise RuntimeError(f"the Node SDK answered {answer!r}{sdk.stderr_tail()}")
                return answer["cpu_us"] / 1e6 / count

            def exchange_one() -> None:
                data = client.exchange_code(next(codes))
                assert data.attributes, "the exchange returned no attributes"

            node_batch(warmup)
            for _ in range(warmup):
                exchange_one()
            log(f"{KEY}: {rounds} rounds of {batch} exchanges each")
            result = side_by_side(lambda: per_op(exchange_one, batch), lambda: node_batch(batch), rounds)
            startup_ms = sdk.info["startup_cpu_us"] / 1e3

    return RowResult.cpu_side_by_side(
        KEY,
        TITLE,
        result,
        unit="µs",
        target=TARGET,
        details={
            **node_version(node),
            "node_startup_cpu_ms_not_counted": round(startup_ms, 1),
            "ours": "SIPClient.exchange_code(code): pre-check of the code included (the SDK has none)",
            "payload_labels": "alice, BASIC_SIGNUP (2 attributes)",
        },
    )
