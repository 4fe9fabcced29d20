"""The local stack without Docker: Apache Kafka (KRaft, Maven Central jars), FerretDB (SQLite,
built from the Go module proxy), a trace sink, the stand-ins and the four services.

    python deploy/local/stack.py up [NAME...] | down [NAME...] | kill NAME... | status | run -- CMD...

`up` installs what is missing (cached under SIKS_CACHE, ~/.cache/siks by default), starts
every process that is not running in its own session, records each pid with its start time,
and waits for each to be ready. `down` stops exactly those processes (by recorded pid and
start time, never by name), all of them or the ones named. `kill` ends the named ones with
SIGKILL, as a crash would (`up` starts them again). `run` starts the stack if it is not
running, runs CMD, and stops what it started. Every process inherits the caller's environment
(SIKS_NOW, OTEL_*, log level among it); a part started while the rest runs takes the running
stack's clock, so all services keep telling the same time.

A second (third, ...) replica of a service is a part named `SERVICE-N` (N >= 2), e.g.
`verification-2`: the same program, Kafka principal, consumer group and database as SERVICE,
on its own port (SIKS_VERIFICATION_2_PORT, by default SERVICE's port + 100 * (N - 1)). A plain
`up` never starts one; `up verification-2` does (the rest of the stack must be running), and
`down` / `kill` take it by name like any other part. Replicas of a consumer share the topics'
partitions (SIKS_TOPIC_PARTITIONS, 3 by default): more replicas than partitions sit idle.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "local"
CACHE = Path(os.environ.get("SIKS_CACHE", Path.home() / ".cache" / "siks"))
STATE = Path(os.environ.get("SIKS_STATE", ROOT / "var" / "stack"))
KAFKA_VERSION = os.environ.get("KAFKA_VERSION", "3.9.1")
FERRETDB_VERSION = os.environ.get("FERRETDB_VERSION", "v1.24.2")
PY = sys.executable
TOPIC_PARTITIONS = int(os.environ.get("SIKS_TOPIC_PARTITIONS", "3"))


def port(name: str, default: int) -> int:
    return int(os.environ.get(f"SIKS_{name}_PORT", default))


PORTS = {
    "kafka": port("KAFKA", 9092),
    "kafka-controller": port("KAFKA_CONTROLLER", 9093),
    "mongo": port("MONGO", 27017),
    "trace-sink": port("TRACE_SINK", 4318),
    "standins": port("STANDINS", 8010),
    "registry": port("REGISTRY", 8001),
    "verification": port("VERIFICATION", 8002),
    "integration": port("INTEGRATION", 8003),
    "decree": port("DECREE", 8004),
}
SERVICES = ("registry", "verification", "integration", "decree")
# Kafka principals (SASL/SCRAM-SHA-512), created when the storage is formatted (KIP-900):
# a super user for tools and tests, one per service, and the read-only integrator.
KAFKA_ADMIN = "admin"
KAFKA_USERS = (KAFKA_ADMIN, *SERVICES, "integrator")
KAFKA_MECHANISM = "SCRAM-SHA-512"
KAFKA_CONTROLLER_USER = "controller"  # the broker's own principal on the controller listener (SASL/PLAIN)
_REPLICA = re.compile(rf"^({'|'.join(SERVICES)})-([2-9]|[1-9][0-9]+)$")


def replica_of(name: str) -> tuple[str, int] | None:
    """`verification-2` -> ("verification", 2): an extra replica of a service; None otherwise."""
    m = _REPLICA.match(name)
    return (m.group(1), int(m.group(2))) if m else None


def port_of(name: str) -> int:
    if (rep := replica_of(name)) is not None:
        service, n = rep
        return port(f"{service.upper()}_{n}", PORTS[service] + 100 * (n - 1))
    return PORTS[name]


@dataclass
class Component:
    name: str
    argv: list[str]
    port: int
    ready_url: str | None = None  # HTTP readiness; otherwise the port accepting connections
    env: dict[str, str] = field(default_factory=dict)
    ready_timeout: float = 90.0


# ---------------------------------------------------------------- processes and pid files


def _proc_start_time(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":  # exited; our own child (`run` started it) until reaped
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        return None
    return fields[19]  # field 22: start time in clock ticks since boot


def _pid_file(name: str) -> Path:
    return STATE / "pids" / f"{name}.json"


def recorded(name: str) -> int | None:
    """The pid we started for `name`, if that very process still runs."""
    try:
        info = json.loads(_pid_file(name).read_text())
    except (OSError, ValueError):
        return None
    if _proc_start_time(info["pid"]) != info["start"]:
        return None  # gone, or the pid now belongs to someone else
    return info["pid"]


def _listening(p: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex(("127.0.0.1", p)) == 0


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _ready(c: Component) -> bool:
    return _http_ok(c.ready_url) if c.ready_url else _listening(c.port)


def _start(c: Component) -> int:
    (STATE / "logs").mkdir(parents=True, exist_ok=True)
    (STATE / "pids").mkdir(parents=True, exist_ok=True)
    log = open(STATE / "logs" / f"{c.name}.log", "ab")
    proc = subprocess.Popen(c.argv, cwd=ROOT, env={**os.environ, **c.env}, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    _pid_file(c.name).write_text(json.dumps({"pid": proc.pid, "start": _proc_start_time(proc.pid),
                                             "argv": c.argv, "port": c.port}))
    return proc.pid


def _wait_ready(c: Component, pid: int) -> None:
    deadline = time.monotonic() + c.ready_timeout
    while time.monotonic() < deadline:
        if _ready(c):
            return
        if recorded(c.name) is None:
            tail = (STATE / "logs" / f"{c.name}.log").read_text(errors="replace")[-3000:]
            raise SystemExit(f"{c.name} exited during start-up; last log lines:\n{tail}")
        time.sleep(0.2)
    raise SystemExit(f"{c.name} (pid {pid}) not ready after {c.ready_timeout:.0f}s; see {STATE}/logs/{c.name}.log")


def _kill(name: str) -> bool:
    """SIGKILL, as a crash would: no shutdown hook runs."""
    return _stop(name, grace=0.0, first=signal.SIGKILL)


def _stop(name: str, grace: float = 15.0, first: signal.Signals = signal.SIGTERM) -> bool:
    pid = recorded(name)
    if pid is None:
        _pid_file(name).unlink(missing_ok=True)  # a stale record of a process long gone
        return False
    try:
        os.killpg(pid, first)  # its own session: the group is exactly what we started
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and recorded(name) == pid:
        time.sleep(0.1)
    if recorded(name) == pid:
        with contextlib.suppress(ProcessLookupError):  # it may end between the check and the kill
            os.killpg(pid, signal.SIGKILL)
        while recorded(name) == pid:
            time.sleep(0.05)
    _pid_file(name).unlink(missing_ok=True)
    return True


# ---------------------------------------------------------------- the components


def _install() -> None:
    env = {**os.environ, "SIKS_CACHE": str(CACHE), "KAFKA_VERSION": KAFKA_VERSION,
           "FERRETDB_VERSION": FERRETDB_VERSION}
    for script in ("install_kafka.sh", "install_ferretdb.sh"):
        subprocess.run(["bash", str(DEPLOY / script)], check=True, env=env)


def _secrets_file() -> Path:
    return STATE / "secrets" / "kafka.json"  # siks_kit.bus.kafka_access reads it too


def _kafka_secrets() -> dict:
    """The local stack's Kafka credentials, generated once (random, never in the repo)."""
    try:
        found = json.loads(_secrets_file().read_text())
        if set(found.get("users", {})) >= set(KAFKA_USERS) and found.get("controller_password"):
            return found
    except (OSError, ValueError):
        pass
    found = {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": KAFKA_MECHANISM,
             "users": {name: secrets.token_hex(24) for name in KAFKA_USERS},
             "controller_password": secrets.token_hex(24)}
    _write_secret(_secrets_file(), json.dumps(found, indent=2))
    return found


def _write_secret(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    path.chmod(0o600)


def _scram_marker(data: Path) -> Path:
    return data.parent / f"{data.name}-format.json"  # which SCRAM credentials the storage was formatted with


def _fingerprint(users: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(users, sort_keys=True).encode()).hexdigest()


def _kafka() -> Component:
    data = STATE / "kafka"
    props = STATE / "kafka.properties"
    kp, cp = PORTS["kafka"], PORTS["kafka-controller"]
    creds = _kafka_secrets()
    users, controller_pw = creds["users"], creds["controller_password"]
    if creds.get("bootstrap") != f"127.0.0.1:{kp}":
        creds["bootstrap"] = f"127.0.0.1:{kp}"  # what tools and `siks kafka-config` connect to
        _write_secret(_secrets_file(), json.dumps(creds, indent=2))
    _write_secret(props, "\n".join([
        "process.roles=broker,controller", "node.id=1", f"controller.quorum.voters=1@127.0.0.1:{cp}",
        # Clients (services, tools) authenticate with SCRAM on CLIENT; the broker speaks to its
        # controller as `controller` over SASL/PLAIN (SCRAM credentials live in the metadata the
        # controller serves, so it cannot use them). No listener lets an anonymous client in.
        f"listeners=CLIENT://127.0.0.1:{kp},CONTROLLER://127.0.0.1:{cp}",
        f"advertised.listeners=CLIENT://127.0.0.1:{kp}", "controller.listener.names=CONTROLLER",
        "inter.broker.listener.name=CLIENT",
        "listener.security.protocol.map=CLIENT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT",
        f"sasl.enabled.mechanisms={KAFKA_MECHANISM}", f"sasl.mechanism.inter.broker.protocol={KAFKA_MECHANISM}",
        "sasl.mechanism.controller.protocol=PLAIN", "listener.name.controller.sasl.enabled.mechanisms=PLAIN",
        "listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule "
        f'required username="{KAFKA_CONTROLLER_USER}" password="{controller_pw}" '
        f'user_{KAFKA_CONTROLLER_USER}="{controller_pw}";',
        f"listener.name.client.{KAFKA_MECHANISM.lower()}.sasl.jaas.config="
        f'org.apache.kafka.common.security.scram.ScramLoginModule required username="{KAFKA_ADMIN}" '
        f'password="{users[KAFKA_ADMIN]}";',
        # The broker's own authorizer: what no ACL allows is denied; only admin and the
        # broker itself are super users (User:ANONYMOUS is not).
        "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found=false", f"super.users=User:{KAFKA_ADMIN};User:{KAFKA_CONTROLLER_USER}",
        f"log.dirs={data}", f"num.partitions={TOPIC_PARTITIONS}", "offsets.topic.replication.factor=1",
        "offsets.topic.num.partitions=6", "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1", "group.initial.rebalance.delay.ms=0",
        "auto.create.topics.enable=true", "log.retention.hours=168", "",
    ]))
    libs = CACHE / f"kafka-{KAFKA_VERSION}" / "libs"
    java = ["java", "-Xms256m", "-Xmx768m", "-XX:+UseG1GC", f"-Dlog4j.configuration=file:{DEPLOY / 'kafka-log4j.properties'}",
            f"-Dkafka.logs.dir={STATE / 'logs'}", "-cp", f"{libs}/*"]
    if recorded("kafka") is None:
        _format_kafka(java, data, props, users)
    return Component("kafka", java + ["kafka.Kafka", str(props)], kp, ready_timeout=120)


def _format_kafka(java: list[str], data: Path, props: Path, users: dict[str, str]) -> None:
    """Formats the storage with every SCRAM user (KIP-900), once; a storage formatted
    without them (the layout before authentication) is formatted again, topics and all."""
    marker = _scram_marker(data)
    if (data / "meta.properties").exists():
        try:
            if json.loads(marker.read_text())["credentials"] == _fingerprint(users):
                return
        except (OSError, ValueError, KeyError):
            pass
        print(f"note: {data} was formatted without the SCRAM credentials in {_secrets_file()} (an older "
              "layout, before Kafka authentication?); formatting it again: its topics, records and "
              "consumer offsets are dropped")
        shutil.rmtree(data)
    cluster_id = "c2lrcy1sb2NhbC1zdGFjaw"  # 22 chars of base64url: a fixed local cluster
    scram = [arg for name, password in users.items()
             for arg in ("--add-scram", f"{KAFKA_MECHANISM}=[name={name},password={password}]")]
    subprocess.run(java + ["kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(props), *scram],
                   check=True, stdout=subprocess.DEVNULL)
    marker.write_text(json.dumps({"users": sorted(users), "credentials": _fingerprint(users)}))


def ferretdb_build() -> str:
    """The patched build's name, as install_ferretdb.sh computes it: a hash of the script and
    its patches, so a changed patch makes a new build."""
    script = DEPLOY / "install_ferretdb.sh"
    patches = sorted((DEPLOY / "ferretdb").glob("*.patch"))
    return hashlib.sha256(b"".join(p.read_bytes() for p in [script, *patches])).hexdigest()[:12]


# FerretDB decodes and re-encodes every document it touches, and at Go's default (GOGC=100)
# a fifth of its CPU under load went to the garbage collector. Collecting when the heap has
# grown 4x rather than 2x: bulk path 6.2 -> 4.8 ms of FerretDB CPU per household, its peak
# memory ~80 -> ~150 MB; the limit makes it collect harder before it grows past 512 MiB.
# A caller's own GOGC / GOMEMLIMIT win.
FERRETDB_GC = {"GOGC": os.environ.get("GOGC", "400"), "GOMEMLIMIT": os.environ.get("GOMEMLIMIT", "512MiB")}


def _ferretdb() -> Component:
    data = STATE / "ferretdb"
    data.mkdir(parents=True, exist_ok=True)
    binary = CACHE / f"ferretdb-{FERRETDB_VERSION}-{ferretdb_build()}" / "ferretdb"
    return Component("mongo", [str(binary), "--handler=sqlite", f"--sqlite-url=file:{data}/",
                               f"--listen-addr=127.0.0.1:{PORTS['mongo']}", "--debug-addr=-",
                               "--telemetry=disable", f"--state-dir={data}", "--log-level=warn"],
                     PORTS["mongo"], env=FERRETDB_GC)


def _kafka_env(user: str) -> dict[str, str]:
    """How a process connects to Kafka as `user` (siks_kit.runtime.settings: SIKS_KAFKA_*)."""
    creds = _kafka_secrets()
    return {"SIKS_KAFKA_BOOTSTRAP": f"127.0.0.1:{PORTS['kafka']}",
            "SIKS_KAFKA_SECURITY_PROTOCOL": creds["security_protocol"],
            "SIKS_KAFKA_SASL_MECHANISM": creds["sasl_mechanism"],
            "SIKS_KAFKA_USERNAME": user, "SIKS_KAFKA_PASSWORD": creds["users"][user]}


def _service_env(name: str) -> dict[str, str]:
    env = {"SIKS_PORT": str(PORTS[name]), "SIKS_HOST": "127.0.0.1",
           **(_kafka_env(name) if name in SERVICES else {}),
           "SIKS_MONGO_URL": f"mongodb://127.0.0.1:{PORTS['mongo']}/",
           "SIKS_STANDINS_URL": f"http://127.0.0.1:{PORTS['standins']}",
           "SIKS_STANDINS_PORT": str(PORTS["standins"])}
    if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        # No collector named by the caller: send spans to the local sink (tests read it).
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://127.0.0.1:{PORTS['trace-sink']}"
        env["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf"
    env["OTEL_SERVICE_NAME"] = name  # one name per process, whatever the caller's shell holds
    return env


def components() -> list[Component]:
    http = "http://127.0.0.1:{}/readyz"
    comps = [_kafka(), _ferretdb(),
             Component("trace-sink", [PY, str(DEPLOY / "trace_sink.py")], PORTS["trace-sink"],
                       ready_url=f"http://127.0.0.1:{PORTS['trace-sink']}/healthz",
                       env={"SIKS_TRACE_SINK_PORT": str(PORTS["trace-sink"])}),
             Component("standins", [PY, "-m", "siks_standins"], PORTS["standins"],
                       ready_url=http.format(PORTS["standins"]), env=_service_env("standins"))]
    comps += [Component(s, [PY, "-m", f"siks_{s}"], PORTS[s], ready_url=http.format(PORTS[s]),
                        env=_service_env(s)) for s in SERVICES]
    return comps


def replica(name: str) -> Component:
    """An extra replica of a service: its own port and process, everything else shared (Kafka
    principal and consumer group, database, stand-ins, trace sink)."""
    service, _ = replica_of(name)
    p = port_of(name)
    attrs = ",".join(a for a in (os.environ.get("OTEL_RESOURCE_ATTRIBUTES"), f"service.instance.id={name}") if a)
    env = {**_service_env(service), "SIKS_PORT": str(p), "OTEL_RESOURCE_ATTRIBUTES": attrs}
    return Component(name, [PY, "-m", f"siks_{service}"], p, ready_url=f"http://127.0.0.1:{p}/readyz", env=env)


def _create_topics() -> None:
    """Every topic and its dead-letter twin, then the ACLs (deploy/local/acls.py), as admin."""
    subprocess.run([PY, str(DEPLOY / "topics.py"), f"127.0.0.1:{PORTS['kafka']}", str(TOPIC_PARTITIONS)], check=True,
                   env={**os.environ, **_kafka_env(KAFKA_ADMIN)})


# ---------------------------------------------------------------- commands


def _launch(c: Component, started: list[str]) -> bool:
    if recorded(c.name) is not None:
        return False
    if _listening(c.port):
        raise SystemExit(f"port {c.port} for {c.name} is taken by a process this stack did not start; "
                         f"free it or set SIKS_{c.name.upper().replace('-', '_')}_PORT")
    _start(c)
    started.append(c.name)
    return True


def _clock_file() -> Path:
    return STATE / "clock.json"


def _running_clock() -> dict[str, str] | None:
    """The SIKS_NOW and anchor the running stack was started with (None: real time, or down)."""
    if not any(recorded(c.name) is not None for c in components_names()):
        return None
    try:
        return json.loads(_clock_file().read_text())
    except (OSError, ValueError):
        return None


def _set_clock() -> None:
    """One anchor for the whole stack: SIKS_NOW held at that unix time, for every service.
    A service restarted while the rest runs takes the same clock, or it would tell another
    time than its peers (and could open a window they keep shut)."""
    running = _running_clock()
    if running is not None:
        asked = os.environ.get("SIKS_NOW")
        if asked and asked != running["now"]:
            print(f"note: the running stack keeps SIKS_NOW={running['now']}; stop it all (make down) to change it")
        os.environ["SIKS_NOW"], os.environ["SIKS_NOW_ANCHOR"] = running["now"], running["anchor"]
        return
    if os.environ.get("SIKS_NOW"):
        os.environ.setdefault("SIKS_NOW_ANCHOR", str(time.time()))
        _clock_file().parent.mkdir(parents=True, exist_ok=True)
        _clock_file().write_text(json.dumps({"now": os.environ["SIKS_NOW"], "anchor": os.environ["SIKS_NOW_ANCHOR"]}))
    else:
        _clock_file().unlink(missing_ok=True)


def up(names: list[str] | None = None) -> list[str]:
    """Starts whatever is not running (or only the parts named); returns the names it started.
    Replicas (`verification-2`) start only when named."""
    started_at = time.monotonic()
    _set_clock()
    _install()
    started = []
    comps = components()
    if names:
        extra = [n for n in names if replica_of(n)]
        needed = [n for n in ("kafka", "mongo") if recorded(n) is None and n not in names]
        if extra and needed:
            raise SystemExit(f"start the stack before a replica ({', '.join(needed)} not running)")
        comps = [c for c in comps if c.name in names] + [replica(n) for n in extra]
    servers = [c for c in comps if c.name in ("kafka", "mongo")]
    apps = [c for c in comps if c.name not in ("kafka", "mongo")]
    for c in servers:  # Kafka and the database first: the apps need both to become ready
        if _launch(c, started):
            _wait_ready(c, recorded(c.name))
            if c.name == "kafka":
                _create_topics()
    launched = [c for c in apps if _launch(c, started)]  # the apps start side by side
    for c in launched:
        _wait_ready(c, recorded(c.name))
    print(f"stack up in {time.monotonic() - started_at:.1f}s" + (f" (started: {', '.join(started)})" if started
                                                                   else " (everything was already running)"))
    status()
    return started


def down(names: list[str] | None = None) -> None:
    order = [*recorded_replicas(), *(c.name for c in reversed(components_names()))]
    for name in order:
        if names is not None and name not in names:
            continue
        if _stop(name):
            print(f"stopped {name}")
    left = [f"{n}:{p}" for n, p in PORTS.items() if (names is None or n in names) and _listening(p)
            and n != "kafka-controller"]
    left += [f"{n}:{port_of(n)}" for n in names or () if replica_of(n) and _listening(port_of(n))]
    if left and names is None:
        print(f"warning: still listening (not started by this stack?): {', '.join(left)}")


def components_names() -> list[Component]:
    # Names and ports only; building Kafka's component would format storage.
    return [Component(n, [], PORTS[n]) for n in ("kafka", "mongo", "trace-sink", "standins", *SERVICES)]


def recorded_replicas() -> list[str]:
    """The extra replicas with a pid file (running or not), e.g. ["verification-2"]."""
    found = sorted(p.stem for p in (STATE / "pids").glob("*.json") if replica_of(p.stem))
    return sorted(found, key=lambda n: replica_of(n))


def running() -> bool:
    return all(recorded(c.name) is not None for c in components_names())


def status() -> int:
    rows, healthy = [], True
    extra = [Component(n, [], port_of(n)) for n in recorded_replicas() if recorded(n) is not None]
    for c in components_names() + extra:
        pid = recorded(c.name)
        url = f"http://127.0.0.1:{c.port}" if c.name not in ("kafka", "mongo") else f"127.0.0.1:{c.port}"
        if c.name in ("standins", *SERVICES) or replica_of(c.name):
            state = "ready" if _http_ok(f"{url}/readyz") else "not ready"
            url += "/docs"
        elif c.name == "trace-sink":
            state = "ready" if _http_ok(f"{url}/healthz") else "not ready"
        else:
            state = "listening" if _listening(c.port) else "not listening"
        healthy &= pid is not None and state in ("ready", "listening")
        rows.append((c.name, str(pid or "-"), state, url))
    for r in rows:
        print(f"  {r[0]:<15} pid {r[1]:<8} {r[2]:<14} {r[3]}")
    clock = _running_clock()
    print(f"  logs: {STATE / 'logs'}   clock: SIKS_NOW={clock['now'] if clock else '(real time)'}")
    return 0 if healthy else 1


def run(cmd: list[str]) -> int:
    started = [] if running() else up()
    try:
        return subprocess.call(cmd, cwd=ROOT)
    finally:
        if started:
            down(started)
        _reap_children()


def _reap_children() -> None:
    """Parts CMD stopped or killed (a test restarting one, say) were our children: collect them."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _known(names: list[str]) -> list[str]:
    unknown = [n for n in names if (n not in PORTS or n == "kafka-controller") and not replica_of(n)]
    if unknown:
        raise SystemExit(f"unknown component(s) {', '.join(unknown)}; known: "
                         f"{', '.join(c.name for c in components_names())}, and replicas such as "
                         f"verification-2 (SERVICE-N, N >= 2)")
    return names


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    if command == "up":
        up(_known(rest) or None)
        return 0
    if command == "down":
        down(_known(rest) or None)
        return 0
    if command == "kill":
        for name in _known(rest):
            print(f"killed {name}" if _kill(name) else f"{name} was not running")
        return 0
    if command == "status":
        return status()
    if command == "run":
        return run(rest[1:] if rest[:1] == ["--"] else rest)
    print(f"unknown command {command!r}\n{__doc__}")
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
