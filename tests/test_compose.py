"""docker-compose.yml and the Dockerfile checked against what the code reads (no Docker needed).

No Docker engine runs where the suite runs, so `docker compose config` cannot catch a wrong
port, a missing variable or a secret with a silent default. These tests parse the files and
compare them with the facts the code and DESIGN.md fix.

Each check is a function returning a list of problems; the positive tests assert that list is
empty for the real files, and `test_checks_catch_breakage` feeds each check a deliberately
broken copy to prove it can fail.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
KAFKA_INSTALLER = ROOT / "deploy" / "local" / "install_kafka.sh"
MONGO_INIT_DIR = ROOT / "deploy" / "compose" / "mongo-init"
MONGO_INIT_SCRIPT = MONGO_INIT_DIR / "create-service-users.js"

INFRA = ("kafka", "mongo", "jaeger")
APP_SERVICES = ("registry", "verification", "integration", "decree")
STANDINS = "standins"
PYTHON_SERVICES = (*APP_SERVICES, STANDINS)

# DESIGN.md section 5: default ports.
PORTS = {"registry": 8001, "verification": 8002, "integration": 8003, "decree": 8004, "standins": 8010}

# Workspace member (build arg PACKAGE), import package (build arg MODULE, run as
# `python -m MODULE`) and where its source lives.
PACKAGES = {
    "registry": ("siks-registry", "siks_registry", "services/registry"),
    "verification": ("siks-verification", "siks_verification", "services/verification"),
    "integration": ("siks-integration", "siks_integration", "services/integration"),
    "decree": ("siks-decree", "siks_decree", "services/decree"),
    "standins": ("siks-standins", "siks_standins", "deploy/standins"),
}

# Every environment variable the code reads, per service.
SERVICE_ENV = (
    "SIKS_ENV",
    "SIKS_HOST",
    "SIKS_PORT",
    "SIKS_KAFKA_BOOTSTRAP",
    "SIKS_MONGO_URL",
    "SIKS_MONGO_DB",
    "SIKS_JWT_SECRET",
    "SIKS_NOW",
    "SIKS_LOG_LEVEL",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_SERVICE_NAME",
)
REQUIRED_ENV: dict[str, tuple[str, ...]] = {
    "registry": SERVICE_ENV,
    "verification": SERVICE_ENV,
    "integration": (*SERVICE_ENV, "SIKS_STANDINS_URL"),
    "decree": SERVICE_ENV,
    "standins": ("SIKS_HOST", "SIKS_STANDINS_PORT"),
}

# Fixed values: a typo in one of these is a service that cannot find its peers.
EXPECTED_VALUES: dict[str, str] = {
    "SIKS_ENV": "production",
    "SIKS_HOST": "0.0.0.0",
    "SIKS_KAFKA_BOOTSTRAP": "kafka:9092",
    "OTEL_EXPORTER_OTLP_ENDPOINT": "http://jaeger:4318",
    "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
    "SIKS_NOW": "${SIKS_NOW:-}",
    "SIKS_STANDINS_URL": "http://standins:8010",
}

# Which services must be healthy before each Python process starts.
HEALTHY_DEPENDENCIES: dict[str, tuple[str, ...]] = {
    "registry": ("kafka", "mongo"),
    "verification": ("kafka", "mongo"),
    "integration": ("kafka", "mongo", "standins"),
    "decree": ("kafka", "mongo"),
    "standins": (),  # needs neither Kafka nor MongoDB
}

# Each service's own MongoDB user (readWrite on its own database only) and its password.
def mongo_password_var(name: str) -> str:
    return f"MONGO_{name.upper()}_PASSWORD"


# Secrets with no safe default: compose must refuse to run when they are unset.
REQUIRED_SECRETS = ("SIKS_JWT_SECRET", "MONGO_ROOT_PASSWORD", *(mongo_password_var(n) for n in APP_SERVICES))


# --------------------------------------------------------------------------- helpers


def load_compose() -> dict[str, Any]:
    # safe_load resolves the anchors and `<<` merge keys the file uses.
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a dict, whichever of the two compose syntaxes it uses."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        out: dict[str, str] = {}
        for item in env:
            name, _, value = str(item).partition("=")
            out[name] = value
        return out
    return {str(k): ("" if v is None else str(v)) for k, v in env.items()}


def depends_on(service: dict[str, Any]) -> dict[str, str]:
    """depends_on as {service: condition}; the short (list) form means service_started."""
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {name: "service_started" for name in deps}
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def published_ports(service: dict[str, Any]) -> set[tuple[int, int]]:
    """(host port, container port) pairs from short ("[ip:]host:container") or long syntax."""
    pairs: set[tuple[int, int]] = set()
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            pairs.add((int(entry.get("published", 0)), int(entry["target"])))
            continue
        parts = str(entry).split("/")[0].split(":")
        if len(parts) == 1:
            continue  # container port only: published on a random host port
        pairs.add((int(parts[-2]), int(parts[-1])))
    return pairs


def kafka_version_pinned() -> str:
    match = re.search(r'KAFKA_VERSION:-([0-9][0-9A-Za-z.\-]*)\}', KAFKA_INSTALLER.read_text(encoding="utf-8"))
    assert match, f"no KAFKA_VERSION default found in {KAFKA_INSTALLER}"
    return match.group(1)


def required_form(var: str) -> re.Pattern[str]:
    """`${VAR:?message}` (or `${VAR?message}`): interpolation fails when VAR is unset."""
    return re.compile(r"\$\{" + re.escape(var) + r":?\?[^}]+\}")


# --------------------------------------------------------------------------- checks


def check_images_or_builds(compose: dict[str, Any]) -> list[str]:
    return [
        f"{name}: neither image nor build"
        for name, svc in compose["services"].items()
        if not (svc.get("image") or svc.get("build"))
    ]


def check_healthchecks(compose: dict[str, Any]) -> list[str]:
    problems = []
    for name, svc in compose["services"].items():
        hc = svc.get("healthcheck")
        if not hc or hc.get("disable") or not hc.get("test") or hc["test"] in (["NONE"], "NONE"):
            problems.append(f"{name}: no healthcheck")
    for name in PYTHON_SERVICES:
        test = (compose["services"].get(name, {}).get("healthcheck") or {}).get("test") or []
        text = " ".join(test) if isinstance(test, list) else str(test)
        if f"127.0.0.1:{PORTS[name]}/readyz" not in text:
            problems.append(f"{name}: healthcheck does not probe 127.0.0.1:{PORTS[name]}/readyz")
    return problems


def check_service_set(compose: dict[str, Any]) -> list[str]:
    expected = {*INFRA, *PYTHON_SERVICES}
    present = set(compose.get("services", {}))
    return [f"missing service {name}" for name in sorted(expected - present)]


def check_dependencies(compose: dict[str, Any]) -> list[str]:
    problems = []
    for name, needed in HEALTHY_DEPENDENCIES.items():
        deps = depends_on(compose["services"][name])
        for dep in needed:
            if deps.get(dep) != "service_healthy":
                problems.append(f"{name}: must wait for {dep} to be healthy (has {deps.get(dep)!r})")
        # Waiting on infrastructure or the stand-ins only for "started" is a race at start-up.
        for dep, condition in deps.items():
            if dep in ("kafka", "mongo", STANDINS) and condition != "service_healthy":
                problems.append(f"{name}: depends on {dep} with {condition!r}, not service_healthy")
    return problems


def check_environment(compose: dict[str, Any]) -> list[str]:
    problems = []
    for name, required in REQUIRED_ENV.items():
        env = environment(compose["services"][name])
        for var in required:
            if var not in env:
                problems.append(f"{name}: environment lacks {var}")
        for var, expected in EXPECTED_VALUES.items():
            if var in env and env[var] != expected:
                problems.append(f"{name}: {var}={env[var]!r}, expected {expected!r}")
        if name in APP_SERVICES:
            if env.get("SIKS_PORT") != str(PORTS[name]):
                problems.append(f"{name}: SIKS_PORT={env.get('SIKS_PORT')!r}, expected {PORTS[name]}")
            problems += check_own_mongo_user(name, env)
        if name == STANDINS and env.get("SIKS_STANDINS_PORT") != str(PORTS[STANDINS]):
            problems.append(f"standins: SIKS_STANDINS_PORT={env.get('SIKS_STANDINS_PORT')!r}")
    dbs = [environment(compose["services"][n]).get("SIKS_MONGO_DB") for n in APP_SERVICES]
    if len(set(dbs)) != len(dbs):
        problems.append(f"services share a database: {dbs}")
    return problems


def check_own_mongo_user(name: str, env: dict[str, str]) -> list[str]:
    """The service connects as siks_<name>, a user of its own database, never as root."""
    problems = []
    db, url = env.get("SIKS_MONGO_DB", ""), env.get("SIKS_MONGO_URL", "")
    if db != f"siks_{name}":
        problems.append(f"{name}: SIKS_MONGO_DB={db!r}, expected siks_{name}")
    user = f"siks_{name}"
    expected = re.compile(r"mongodb://" + re.escape(user) + r":(\$\{[^}]+\})@mongo:27017/" + re.escape(user)
                          + r"\?authSource=" + re.escape(user))
    match = expected.fullmatch(url)
    if not match:
        problems.append(f"{name}: SIKS_MONGO_URL {url!r} is not mongodb://{user}:${{...}}@mongo:27017/{user}"
                        f"?authSource={user}")
    elif not required_form(mongo_password_var(name)).fullmatch(match.group(1)):
        problems.append(f"{name}: SIKS_MONGO_URL password is {match.group(1)!r}, not "
                        f"${{{mongo_password_var(name)}:?...}}")
    if "MONGO_ROOT" in url or "authSource=admin" in url:
        problems.append(f"{name}: SIKS_MONGO_URL uses the root user")
    return problems


def check_mongo_users(compose: dict[str, Any], script: str) -> list[str]:
    """The mongo container creates one user per service, readWrite on its own database only,
    from passwords it is given; the services hold no root credentials."""
    problems = []
    mongo = compose["services"]["mongo"]
    mounts = [str(v) for v in mongo.get("volumes") or []]
    if not any(m.split(":")[1:2] == ["/docker-entrypoint-initdb.d"] and
               (ROOT / m.split(":")[0]).resolve() == MONGO_INIT_DIR.resolve() for m in mounts):
        problems.append(f"mongo: {MONGO_INIT_DIR.relative_to(ROOT)} is not mounted at /docker-entrypoint-initdb.d")
    env = environment(mongo)
    for name in APP_SERVICES:
        var = mongo_password_var(name)
        if not required_form(var).fullmatch(env.get(var, "")):
            problems.append(f"mongo: {var} is {env.get(var)!r}, not ${{{var}:?...}} (the init script needs it)")
    listed = re.search(r"const SERVICES = \[([^\]]*)\]", script)
    names = re.findall(r'"([a-z]+)"', listed.group(1)) if listed else []
    if sorted(names) != sorted(APP_SERVICES):
        problems.append(f"init script makes users for {names}, expected {list(APP_SERVICES)}")
    roles = re.findall(r'role:\s*"([A-Za-z]+)"', script)
    if roles != ["readWrite"]:
        problems.append(f"init script grants roles {roles}, expected readWrite only")
    if not re.search(r'roles:\s*\[\{\s*role:\s*"readWrite",\s*db:\s*database\s*\}\]', script):
        problems.append("init script does not grant readWrite on the service's own database")
    if "getSiblingDB(database)" not in script or "const database = `siks_${name}`" not in script:
        problems.append("init script does not define each user in the service's own database")
    if "MONGO_${name.toUpperCase()}_PASSWORD" not in script:
        problems.append("init script does not read MONGO_<SERVICE>_PASSWORD")
    for name in APP_SERVICES:
        if any("MONGO_ROOT" in v for v in environment(compose["services"][name]).values()):
            problems.append(f"{name}: holds the MongoDB root credentials")
    return problems


def check_ports(compose: dict[str, Any]) -> list[str]:
    problems = []
    for name, port in PORTS.items():
        pairs = published_ports(compose["services"][name])
        if (port, port) not in pairs:
            problems.append(f"{name}: does not publish {port}:{port} (has {sorted(pairs)})")
    return problems


def check_kafka_version(compose: dict[str, Any]) -> list[str]:
    image = compose["services"]["kafka"].get("image", "")
    repo, _, tag = image.partition(":")
    pinned = kafka_version_pinned()
    if repo != "apache/kafka" or tag != pinned:
        return [f"kafka image {image!r}, expected apache/kafka:{pinned} as in {KAFKA_INSTALLER.name}"]
    return []


def check_secrets_required(compose: dict[str, Any], raw: str) -> list[str]:
    problems = []
    # Every mention of a secret in the file must be the failing form: one `${VAR}` or
    # `${VAR:-default}` anywhere would let compose start with an empty or default secret.
    for var in REQUIRED_SECRETS:
        mentions = re.findall(r"\$\{" + re.escape(var) + r"[^}]*\}", raw)
        if not mentions:
            problems.append(f"{var} is never used")
        for mention in mentions:
            if not required_form(var).fullmatch(mention):
                problems.append(f"{var} used as {mention!r}, not ${{{var}:?...}}")
    services = compose["services"]
    for name in APP_SERVICES:
        env = environment(services[name])
        if not required_form("SIKS_JWT_SECRET").fullmatch(env.get("SIKS_JWT_SECRET", "")):
            problems.append(f"{name}: SIKS_JWT_SECRET is not ${{SIKS_JWT_SECRET:?...}}")
        if not required_form(mongo_password_var(name)).search(env.get("SIKS_MONGO_URL", "")):
            problems.append(f"{name}: SIKS_MONGO_URL does not carry ${{{mongo_password_var(name)}:?...}}")
    mongo_pw = environment(services["mongo"]).get("MONGO_INITDB_ROOT_PASSWORD", "")
    if not required_form("MONGO_ROOT_PASSWORD").fullmatch(mongo_pw):
        problems.append(f"mongo: MONGO_INITDB_ROOT_PASSWORD is {mongo_pw!r}")
    return problems


def check_builds(compose: dict[str, Any]) -> list[str]:
    problems = []
    for name, (package, module, source) in PACKAGES.items():
        svc = compose["services"][name]
        build = svc.get("build") or {}
        if not isinstance(build, dict):
            problems.append(f"{name}: build must be a mapping with args")
            continue
        args = build.get("args") or {}
        if isinstance(args, list):
            args = dict(str(a).partition("=")[::2] for a in args)
        if build.get("context") not in (".", "./"):
            problems.append(f"{name}: build context {build.get('context')!r}, expected the workspace root")
        if build.get("dockerfile", "Dockerfile") != "Dockerfile":
            problems.append(f"{name}: dockerfile {build.get('dockerfile')!r}")
        if args.get("PACKAGE") != package or args.get("MODULE") != module:
            problems.append(f"{name}: build args {args}, expected PACKAGE={package} MODULE={module}")
        if not (ROOT / source / module).is_dir():
            problems.append(f"{name}: no package {source}/{module} in the workspace")
        if svc.get("image") != f"siks/{name}:dev":
            problems.append(f"{name}: image {svc.get('image')!r}, expected siks/{name}:dev")
    return problems


def check_restart(compose: dict[str, Any]) -> list[str]:
    return [
        f"{name}: restart {svc.get('restart')!r}"
        for name, svc in compose["services"].items()
        if svc.get("restart") != "unless-stopped"
    ]


def check_dockerfile(text: str) -> list[str]:
    problems = []
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    if not re.search(r"\buv sync --frozen\b", text):
        problems.append("Dockerfile does not run `uv sync --frozen`")
    if not re.search(r"\buv sync\b[^\n]*--no-dev\b", text):
        problems.append("Dockerfile installs dev dependencies (no --no-dev)")
    if not re.search(r"^FROM python:3\.11-slim\b|^ARG PYTHON_IMAGE=python:3\.11-slim\b", text, re.MULTILINE):
        problems.append("Dockerfile is not based on python:3.11-slim")
    for arg in ("PACKAGE", "MODULE"):
        if not re.search(rf"^ARG {arg}\b", text, re.MULTILINE):
            problems.append(f"Dockerfile has no build arg {arg}")
    users = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    if not users or users[-1].split(":")[0] in ("root", "0"):
        problems.append(f"Dockerfile runs as root (USER lines: {users})")
    if "ghcr.io" in text:
        problems.append("Dockerfile pulls from ghcr.io; only Docker Hub official images are assumed")
    if not re.search(r"^CMD .*python -m", text, re.MULTILINE):
        problems.append("Dockerfile CMD does not run `python -m <module>`")
    return problems


def check_dockerignore(text: str) -> list[str]:
    entries = {line.strip().rstrip("/") for line in text.splitlines() if line.strip() and not line.startswith("#")}
    return [f".dockerignore does not exclude {e}" for e in (".venv", ".git", "var") if e not in entries]


# --------------------------------------------------------------------------- tests

COMPOSE_CHECKS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "services": check_service_set,
    "image_or_build": check_images_or_builds,
    "healthchecks": check_healthchecks,
    "dependencies": check_dependencies,
    "environment": check_environment,
    "ports": check_ports,
    "kafka_version": check_kafka_version,
    "builds": check_builds,
    "restart": check_restart,
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


@pytest.mark.parametrize("check", COMPOSE_CHECKS, ids=str)
def test_compose(compose: dict[str, Any], check: str) -> None:
    assert COMPOSE_CHECKS[check](compose) == []


def test_required_secrets_fail_when_unset(compose: dict[str, Any]) -> None:
    assert check_secrets_required(compose, COMPOSE_FILE.read_text(encoding="utf-8")) == []


def test_each_service_has_its_own_mongo_user(compose: dict[str, Any]) -> None:
    assert check_mongo_users(compose, MONGO_INIT_SCRIPT.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(("old", "new"), [
    ('roles: [{ role: "readWrite", db: database }]', 'roles: [{ role: "readWriteAnyDatabase", db: "admin" }]'),
    ('roles: [{ role: "readWrite", db: database }]', 'roles: [{ role: "readWrite", db: database }, { role: "dbAdmin", db: "admin" }]'),
    ('"registry", "verification", "integration", "decree"', '"registry", "verification", "integration"'),
    ("db.getSiblingDB(database)", 'db.getSiblingDB("admin")'),
], ids=["any-database", "extra-role", "missing-service", "user-in-admin"])
def test_mongo_user_check_catches_a_broken_script(compose: dict[str, Any], old: str, new: str) -> None:
    script = MONGO_INIT_SCRIPT.read_text(encoding="utf-8")
    assert old in script
    assert check_mongo_users(compose, script.replace(old, new)) != []


def test_mongo_user_check_catches_root_in_a_service(compose: dict[str, Any]) -> None:
    broken = copy.deepcopy(compose)
    broken["services"]["decree"]["environment"]["SIKS_MONGO_URL"] = (
        "mongodb://siks:${MONGO_ROOT_PASSWORD:?set MONGO_ROOT_PASSWORD}@mongo:27017/?authSource=admin")
    assert check_environment(broken) != [] and check_mongo_users(broken, MONGO_INIT_SCRIPT.read_text()) != []
    broken = copy.deepcopy(compose)
    del broken["services"]["mongo"]["volumes"][1]
    assert check_mongo_users(broken, MONGO_INIT_SCRIPT.read_text()) != []


def test_kafka_version_read_from_installer() -> None:
    # Guards the parser itself: a version must come out, and look like one.
    assert re.fullmatch(r"\d+\.\d+\.\d+", kafka_version_pinned())


def test_dockerfile() -> None:
    assert check_dockerfile(DOCKERFILE.read_text(encoding="utf-8")) == []


def test_dockerignore() -> None:
    assert check_dockerignore(DOCKERIGNORE.read_text(encoding="utf-8")) == []


# --------------------------------------------------------------------------- the checks can fail


def _set(path: tuple[str, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        node = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return mutate


def _delete(path: tuple[str, ...]) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        node = doc
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return mutate


S = "services"
BREAKAGES: list[tuple[str, str, Callable[[dict[str, Any]], None]]] = [
    ("services", "no decree", _delete((S, "decree"))),
    ("image_or_build", "jaeger without image", _delete((S, "jaeger", "image"))),
    ("healthchecks", "mongo without healthcheck", _delete((S, "mongo", "healthcheck"))),
    ("healthchecks", "registry probes the wrong port", _set((S, "registry", "healthcheck", "test"),
        ["CMD", "python", "-c", "urlopen('http://127.0.0.1:8002/readyz')"])),
    ("dependencies", "registry waits only for kafka to start", _set((S, "registry", "depends_on"), ["kafka", "mongo"])),
    ("dependencies", "integration ignores standins", _delete((S, "integration", "depends_on", "standins"))),
    ("environment", "decree lacks SIKS_NOW", _delete((S, "decree", "environment", "SIKS_NOW"))),
    ("environment", "integration lacks SIKS_STANDINS_URL", _delete((S, "integration", "environment", "SIKS_STANDINS_URL"))),
    ("environment", "verification on the wrong bootstrap", _set((S, "verification", "environment", "SIKS_KAFKA_BOOTSTRAP"), "localhost:9092")),
    ("environment", "SIKS_PORT disagrees with DESIGN", _set((S, "decree", "environment", "SIKS_PORT"), "8005")),
    ("environment", "registry uses verification's database user", _set((S, "registry", "environment", "SIKS_MONGO_URL"),
        "mongodb://siks_verification:${MONGO_VERIFICATION_PASSWORD:?x}@mongo:27017/siks_verification?authSource=siks_verification")),
    ("environment", "standins lacks its port", _delete((S, "standins", "environment", "SIKS_STANDINS_PORT"))),
    ("ports", "registry published elsewhere", _set((S, "registry", "ports"), ["18001:8001"])),
    ("kafka_version", "kafka drifts from the installer", _set((S, "kafka", "image"), "apache/kafka:4.0.0")),
    ("builds", "wrong MODULE", _set((S, "verification", "build", "args"), {"PACKAGE": "siks-verification", "MODULE": "siks_registry"})),
    ("restart", "no restart policy", _delete((S, "kafka", "restart"))),
]


@pytest.mark.parametrize(("check", "mutate"), [(c, m) for c, _, m in BREAKAGES], ids=[d for _, d, _ in BREAKAGES])
def test_checks_catch_breakage(compose: dict[str, Any], check: str, mutate: Callable[[dict[str, Any]], None]) -> None:
    broken = copy.deepcopy(compose)
    mutate(broken)
    assert COMPOSE_CHECKS[check](broken) != []


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("${SIKS_JWT_SECRET:?set SIKS_JWT_SECRET}", "${SIKS_JWT_SECRET:-dev-secret}"),
        ("${SIKS_JWT_SECRET:?set SIKS_JWT_SECRET}", "${SIKS_JWT_SECRET}"),
        ("${MONGO_ROOT_PASSWORD:?set MONGO_ROOT_PASSWORD}", "${MONGO_ROOT_PASSWORD:-example}"),
        ("${MONGO_DECREE_PASSWORD:?set MONGO_DECREE_PASSWORD}", "${MONGO_DECREE_PASSWORD:-decree}"),
    ],
    ids=["jwt-default", "jwt-plain", "mongo-default", "service-password-default"],
)
def test_secret_check_catches_defaults(old: str, new: str) -> None:
    raw = COMPOSE_FILE.read_text(encoding="utf-8")
    assert old in raw
    broken_raw = raw.replace(old, new)
    assert check_secrets_required(yaml.safe_load(broken_raw), broken_raw) != []


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("uv sync --frozen", "uv sync"),
        ("USER siks:siks", "USER root"),
        ("ARG MODULE=", "ARG MODULENAME="),
    ],
    ids=["not-frozen", "root", "no-module-arg"],
)
def test_dockerfile_check_catches_breakage(old: str, new: str) -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert old in text
    assert check_dockerfile(text.replace(old, new)) != []
