"""The rules of the road of DESIGN.md section 3, read from the source: who may import whom.

Services never import each other; contracts stay pure (no I/O libraries); a service's domain
imports only the standard library and contracts; imports point inward (api/messaging ->
handlers -> domain)."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("registry", "verification", "integration", "decree")
SERVICE_PACKAGES = {f"siks_{s}" for s in SERVICES}
OTHER_APPS = {"siks_standins", "siks_client"}  # deploy's apps: never a service's dependency
STDLIB = set(sys.stdlib_module_names) | {"__future__"}


def imports(path: Path) -> list[tuple[str, int]]:
    """(absolute or dotted-relative module name, line) of every import in the file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append(("." * node.level + (node.module or ""), node.lineno))
    return found


def top(name: str) -> str:
    return name.split(".")[0]


def sources(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "tests" not in p.relative_to(folder).parts)


def offending(files: list[Path], allowed) -> list[str]:
    return [f"{f.relative_to(ROOT)}:{line} imports {name}" for f in files for name, line in imports(f)
            if not allowed(f, name)]


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_imports_no_other_service_and_no_deploy_app(service):
    package = ROOT / "services" / service / f"siks_{service}"
    foreign = (SERVICE_PACKAGES - {f"siks_{service}"}) | OTHER_APPS
    assert offending(sources(package), lambda f, name: top(name) not in foreign) == []


def test_contracts_and_kit_import_no_service():
    files = sources(ROOT / "contracts" / "siks_contracts") + sources(ROOT / "kit" / "siks_kit")
    assert offending(files, lambda f, name: top(name) not in SERVICE_PACKAGES | OTHER_APPS) == []


def test_contracts_are_pure():
    # pydantic for the models, lokal (Kemendagri region data, read lazily) for region existence.
    allowed = STDLIB | {"pydantic", "lokal", "siks_contracts"}
    files = sources(ROOT / "contracts" / "siks_contracts")
    assert offending(files, lambda f, name: name.startswith(".") or top(name) in allowed) == []


@pytest.mark.parametrize("service", SERVICES)
def test_the_domain_imports_only_the_standard_library_contracts_and_itself(service):
    domain = ROOT / "services" / service / f"siks_{service}" / "domain"

    def allowed(f: Path, name: str) -> bool:
        if name.startswith(".."):  # out of domain/ into the rest of the service
            return False
        return name.startswith(".") or top(name) in STDLIB | {"siks_contracts"}

    assert offending(sources(domain), allowed) == []


@pytest.mark.parametrize("service", SERVICES)
def test_imports_point_inward(service):
    package = ROOT / "services" / service / f"siks_{service}"
    outer = ("api", "messaging", "bootstrap", "__main__")
    files = [package / "handlers.py", *sources(package / "store")]

    def allowed(f: Path, name: str) -> bool:
        parts = name.lstrip(".").split(".")
        inside = name.startswith(".") or top(name) == f"siks_{service}"
        module = parts[0] if name.startswith(".") else (parts[1] if len(parts) > 1 else "")
        return not (inside and module in outer)

    assert offending(files, allowed) == []


def test_importing_any_module_opens_no_connection():
    # In a fresh interpreter whose sockets refuse to connect: clients belong in lifespan hooks.
    # (__main__ modules are left out: running the service is their one job.)
    packages = [*sorted(SERVICE_PACKAGES), "siks_contracts", "siks_kit"]
    code = f"""
import importlib, pkgutil, socket
def refuse(*args, **kwargs):
    raise AssertionError("a connection at import time")
socket.socket.connect = socket.socket.connect_ex = refuse
socket.create_connection = refuse
count = 0
for package in {packages!r}:
    root = importlib.import_module(package)
    for m in pkgutil.walk_packages(root.__path__, package + "."):
        if ".tests" not in m.name and not m.name.endswith(".__main__"):
            importlib.import_module(m.name)
            count += 1
print(count)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout) > 60  # every module of the six packages (77 today) was imported


KIT = ROOT / "kit" / "siks_kit"
KIT_PARTS = {"bus", "store", "web", "observability", "runtime"}


def test_kit_is_grouped_by_concern():
    loose = sorted(p.name for p in KIT.glob("*.py") if p.name not in ("__init__.py", "cli.py"))
    assert loose == [], "kit modules live in a subpackage by concern (bus, store, web, observability, runtime)"
    assert {p.name for p in KIT.iterdir() if p.is_dir() and (p / "__init__.py").exists()} == KIT_PARTS


def test_only_kits_store_imports_pymongo():
    outside = [f for f in sources(KIT) if f.parent != KIT / "store"]
    outside += [f for s in SERVICES for f in sources(ROOT / "services" / s / f"siks_{s}")]
    assert offending(outside, lambda f, name: top(name) not in {"pymongo", "motor"}) == []


def test_kit_names_no_service():
    named = [f"{f.relative_to(ROOT)}:{n}" for f in sources(KIT)
             for n, line in enumerate(f.read_text().splitlines(), 1)
             for s in SERVICES if f"siks_{s}" in line or f'"{s}"' in line]
    assert named == []


def test_production_code_never_imports_the_test_helpers():
    production = sources(KIT) + sources(ROOT / "contracts" / "siks_contracts")
    production += [f for s in SERVICES for f in sources(ROOT / "services" / s / f"siks_{s}")]
    assert offending(production, lambda f, name: top(name) != "siks_testkit") == []
