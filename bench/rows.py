"""The rows of the benchmark, in the order of the issue's table (one module each)."""

from __future__ import annotations

import importlib
from types import ModuleType

ROW_MODULES = [
    "bench.oidc_login_cpu",  # 1 server CPU per Civic Auth login vs mozilla-django-oidc and allauth
    "bench.bearer_auth",  # 2 DRF bearer request vs simplejwt and mozilla-django-oidc's DRF class
    "bench.sip_exchange_cpu",  # 3 client CPU per SIP exchange vs Civic's Node SDK
    "bench.login_cpu",  # 4 server CPU per SIP login vs a Django password login
    "bench.login_throughput",  # 5 logins/s through two app servers vs the machine's ceiling
    "bench.login_queries",  # 6 queries per login, 2 vs 12 attributes
    "bench.admin_scale",  # 7 admin changelist and search, 10k vs 1M identities
    "bench.payload_memory",  # 8 peak memory exchanging a 6 MB processed payload
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
    """A row's number in the issue's table from its key, the module's name (``login_cpu`` -> 4)."""
    return [module.rsplit(".", 1)[1] for module in ROW_MODULES].index(key) + 1
