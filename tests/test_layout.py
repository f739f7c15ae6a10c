"""The layout's rules (docs/internals.md), checked on the source: protocol packages never import Django,
production code never imports the sandbox, and no module imports itself back through others."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "django_civic"


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _imports(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Every django_civic module ``module`` imports, lazy imports inside functions included."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            submodules = {f"{base}.{alias.name}" for alias in node.names} & modules.keys()
            found.update(submodules)
            if len(submodules) < len(node.names):  # names defined in the package module itself
                found.add(base)
    # A module's own packages are imported before it anyway: an edge to one is no circle.
    return {name for name in found if name in modules and not module.startswith(name)}


def test_the_protocol_packages_never_import_django():
    code = ("import sys, django_civic.protocols.http, django_civic.protocols.jose, "
            "django_civic.protocols.sip, django_civic.protocols.civic_auth, django_civic.protocols.idemia, "
            "django_civic.sip; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'django'))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_production_code_never_imports_the_sandbox():
    modules = _modules()
    offenders = {module: sorted(name for name in _imports(module, path, modules)
                                if name.startswith("django_civic.sandbox"))
                 for module, path in modules.items() if not module.startswith("django_civic.sandbox")}
    assert {module: names for module, names in offenders.items() if names} == {}


def test_no_module_imports_itself_back():
    modules = _modules()
    graph = {module: _imports(module, path, modules) for module, path in modules.items()}
    cycles = []
    for start in graph:  # a depth-first walk from every module: small enough for a test
        stack, seen = [(start, [start])], set()
        while stack:
            node, trail = stack.pop()
            for nxt in graph[node]:
                if nxt == start:
                    cycles.append(" -> ".join([*trail, nxt]))
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*trail, nxt]))
    assert cycles == []


# Lower layers never import higher ones (docs/internals.md draws them). Within the systems' layer, no
# system imports another. The fields and their encryption sit below the models that use them.
_LAYERS = {
    "protocols": 0, "conf": 0, "exceptions": 0, "signals": 0, "core.encryption": 0, "core.fields": 0,
    "core.emails": 0, "core.sandbox_credentials": 0, "core.labels": 0,
    "models": 1, "core": 2, "api": 3, "sip": 4, "civic_auth": 4, "idemia": 4, "account": 5,
    "admin": 6, "templatetags": 6, "management": 6, "urls": 6, "backends": 6, "apps": 6, "sandbox": 7,
}
# The path the README documented for the bearer authentication class, kept importable: a re-export.
_KEPT_PATHS = {"django_civic.api.authentication"}


def _layer(module: str) -> tuple[int, str]:
    parts = module.split(".")[1:]
    for size in (2, 1):
        key = ".".join(parts[:size])
        if key in _LAYERS:
            return _LAYERS[key], parts[0]
    return 0, ""  # the package itself (__init__: the version)


def test_dependencies_point_one_way():
    modules = _modules()
    wrong = []
    for module, path in modules.items():
        if module in _KEPT_PATHS:
            continue
        level, name = _layer(module)
        for imported in _imports(module, path, modules):
            their_level, their_name = _layer(imported)
            if their_level > level or (their_level == level == 4 and their_name != name):
                wrong.append(f"{module} -> {imported}")
    assert wrong == []
