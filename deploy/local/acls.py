"""Who may do what on the bus: the broker's ACLs (KRaft StandardAuthorizer, deny by default).

- Each service writes only the topics it owns (siks_contracts.topics.OWNER) and the
  dead-letter twins of the topics it consumes (its consumer parks poison records there),
  reads (and describes) the topics it consumes, and uses its own consumer group (group id =
  service name).
- The `integrator` reads and describes every public topic (topics.ALL) and uses any consumer
  group whose id starts with `integrator`; it writes nothing.
- `admin` (tools, tests) and the broker itself are super users (server properties).

Which topics a service consumes comes from its own messaging SPEC (the event types it
consumes), so a new subscription is granted the next time the stack starts. Run by topics.py
as admin after the topics exist; `python deploy/local/acls.py --print` shows the table and
`--compose` the lines docker-compose.yml's kafka-setup job must hold.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.admin import CreateAclsRequest, DeleteAclsRequest, DescribeAclsRequest
from siks_contracts import topics
from siks_contracts.events import topic_of

SERVICES = ("registry", "verification", "integration", "decree")
INTEGRATOR = "integrator"
INTEGRATOR_GROUP_PREFIX = "integrator"

# Kafka protocol codes (org.apache.kafka.common.acl / resource).
TOPIC, GROUP = 2, 3
LITERAL, PREFIXED = 3, 4
READ, WRITE, DESCRIBE = 3, 4, 8
ALLOW = 3
ANY = 1
OPERATION_NAMES = {READ: "Read", WRITE: "Write", DESCRIBE: "Describe"}
RESOURCE_NAMES = {TOPIC: "topic", GROUP: "group"}


@dataclass(frozen=True, order=True)
class Acl:
    principal: str  # "User:registry"
    resource_type: int
    name: str
    pattern: int
    operation: int

    def __str__(self) -> str:
        kind = RESOURCE_NAMES[self.resource_type] + ("-prefix" if self.pattern == PREFIXED else "")
        return f"{self.principal} {OPERATION_NAMES[self.operation]} {kind} {self.name}"


def consumed_topics() -> dict[str, set[str]]:
    """Each service's consumed topics, from its own SPEC (deploy/ may import services; kit may not)."""
    found = {}
    for service in SERVICES:
        spec = _spec_of(service)
        found[service] = {topic_of(t) for t in spec.consumes}
    return found


def _spec_of(service: str):
    for module in ("messaging", "bootstrap"):
        try:
            mod = importlib.import_module(f"siks_{service}.{module}")
        except ModuleNotFoundError:
            continue
        if hasattr(mod, "SPEC"):
            return mod.SPEC
    raise SystemExit(f"no SPEC found for {service} (looked in siks_{service}.messaging and .bootstrap)")


def wanted(consumes: dict[str, set[str]]) -> set[Acl]:
    acls: set[Acl] = set()
    for service, consumed in consumes.items():
        user = f"User:{service}"
        for topic, owner in topics.OWNER.items():
            if owner == service:
                acls.add(Acl(user, TOPIC, topic, LITERAL, WRITE))
        for topic in consumed:
            acls |= {Acl(user, TOPIC, topic, LITERAL, READ), Acl(user, TOPIC, topic, LITERAL, DESCRIBE),
                     Acl(user, TOPIC, topics.dead_letter(topic), LITERAL, WRITE)}
        acls |= {Acl(user, GROUP, service, LITERAL, READ), Acl(user, GROUP, service, LITERAL, DESCRIBE)}
    user = f"User:{INTEGRATOR}"
    for topic in topics.ALL:
        acls |= {Acl(user, TOPIC, topic, LITERAL, READ), Acl(user, TOPIC, topic, LITERAL, DESCRIBE)}
    acls |= {Acl(user, GROUP, INTEGRATOR_GROUP_PREFIX, PREFIXED, READ),
             Acl(user, GROUP, INTEGRATOR_GROUP_PREFIX, PREFIXED, DESCRIBE)}
    return acls


def compose_lines(acls: set[Acl]) -> list[str]:
    """The same table as the `acl PRINCIPAL OPERATION KIND NAME...` lines of
    docker-compose.yml's kafka-setup job (tests/test_compose.py compares them)."""
    grouped: dict[tuple[str, str, str], list[str]] = {}
    for acl in sorted(acls):
        principal, operation, kind, name = str(acl).split(" ")
        grouped.setdefault((principal, operation, kind), []).append(name)
    return [f"acl {p} {op} {kind} {' '.join(sorted(names))}" for (p, op, kind), names in sorted(grouped.items())]


def managed_principals() -> set[str]:
    return {f"User:{name}" for name in (*SERVICES, INTEGRATOR)}


async def current(admin: AIOKafkaAdminClient) -> set[Acl]:
    response = await admin._send_request(DescribeAclsRequest(ANY, None, ANY, None, None, ANY, ANY))
    if response.error_code:
        raise RuntimeError(f"DescribeAcls failed: {response.error_code} {response.error_message}")
    return {Acl(acl[0], res[0], res[1], res[2], acl[2])
            for res in response.resources for acl in res[3] if acl[3] == ALLOW and acl[1] == "*"}


async def apply(admin: AIOKafkaAdminClient, want: set[Acl]) -> tuple[int, int]:
    """Creates the missing ACLs and deletes those of our principals no longer wanted."""
    have = await current(admin)
    added = sorted(want - have)
    removed = sorted(a for a in have - want if a.principal in managed_principals())
    for acl in added:
        response = await admin._send_request(CreateAclsRequest(acl.resource_type, acl.name, acl.pattern,
                                                               acl.principal, "*", acl.operation, ALLOW))
        for code, message in response.creation_responses:
            if code:
                raise RuntimeError(f"CreateAcls {acl} failed: {code} {message}")
    for acl in removed:
        await admin._send_request(DeleteAclsRequest(acl.resource_type, acl.name, acl.pattern,
                                                    acl.principal, "*", acl.operation, ALLOW))
    return len(added), len(removed)


async def grant(client_args: dict) -> None:
    admin = AIOKafkaAdminClient(**client_args)
    await admin.start()
    try:
        added, removed = await apply(admin, wanted(consumed_topics()))
        if added or removed:
            print(f"kafka ACLs: {added} added, {removed} removed")
    finally:
        await admin.close()


if __name__ == "__main__":
    if sys.argv[1:] == ["--print"]:
        for acl in sorted(wanted(consumed_topics()), key=str):
            print(acl)
    elif sys.argv[1:] == ["--compose"]:
        print("\n".join(compose_lines(wanted(consumed_topics()))))
    else:
        from siks_kit.bus.kafka_access import client_args

        asyncio.run(grant(client_args(sys.argv[1] if len(sys.argv) > 1 else None)))
