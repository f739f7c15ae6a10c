"""The rows of the benchmark, in the order of the issue's table (one module each)."""

from __future__ import annotations

import importlib
from types import ModuleType

ROW_MODULES = [
    "bench.sip_exchange_cpu",  # 1 client CPU per SIP exchange vs the raw cryptography
    "bench.login_cpu",  # 2 server CPU per Civic login vs a PBKDF2 password login
    "bench.login_throughput",  # 3 logins/s through two app servers vs the sandbox alone
    "bench.login_queries",  # 4 queries per login, 2 vs 12 attributes
    "bench.bearer_auth",  # 5 bearer-token authentication vs a bare JWT verification
    "bench.admin_scale",  # 6 admin changelist and search, 10k vs 1M identities
    "bench.payload_memory",  # 7 peak memory exchanging a 6 MB processed payload
]


def load(name: str) -> ModuleType:
    return importlib.import_module(name)


def find(selector: str) -> str:
    """A row's module from its number (``1``), key (``sip_exchange_cpu``) or module name."""
    if selector.isdigit() and 1 <= int(selector) <= len(ROW_MODULES):
        return ROW_MODULES[int(selector) - 1]
    for module in ROW_MODULES:
        if selector in (module, module.rsplit(".", 1)[1]):
            return module
    raise KeyError(
        f"no benchmark row {selector!r}; rows: 1-{len(ROW_MODULES)} or "
        + ", ".join(m.rsplit(".", 1)[1] for m in ROW_MODULES)
    )


def number(key: str) -> int:
    """A row's number in the issue's table, from its key (``login_cpu`` -> 2).

    The key is the module's name.
    """
    return [module.rsplit(".", 1)[1] for module in ROW_MODULES].index(key) + 1
