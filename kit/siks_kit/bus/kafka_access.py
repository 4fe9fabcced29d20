"""How a Kafka client of ours connects: bootstrap servers and, when the broker asks for it,
SASL/SCRAM credentials of one principal.

Services take theirs from settings (SIKS_KAFKA_*). Tools (dead letters, lag, the test
helpers, the bench) take, in order: SIKS_KAFKA_USERNAME/PASSWORD from the environment; else
the local stack's generated secrets (`<SIKS_STATE>/secrets/kafka.json`, written by
deploy/local/stack.py), as `admin` unless another principal is asked for; else nothing
(a broker without authentication).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SECRETS_FILE = Path("secrets") / "kafka.json"  # inside the local stack's state folder
TOOLS_PRINCIPAL = "admin"  # the super user the local tools act as


@dataclass(frozen=True)
class KafkaAccess:
    bootstrap: str
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # never printed

    @property
    def authenticated(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    def client_args(self) -> dict[str, Any]:
        """Keyword arguments for aiokafka's producer, consumer and admin client."""
        args: dict[str, Any] = {"bootstrap_servers": self.bootstrap, "security_protocol": self.security_protocol}
        if self.authenticated:
            args |= {"sasl_mechanism": self.sasl_mechanism, "sasl_plain_username": self.username,
                     "sasl_plain_password": self.password}
        return args

    def librdkafka(self) -> dict[str, str]:
        """The same, as librdkafka properties (kcat -F, confluent-kafka)."""
        props = {"bootstrap.servers": self.bootstrap, "security.protocol": self.security_protocol}
        if self.authenticated:
            props |= {"sasl.mechanisms": self.sasl_mechanism or "", "sasl.username": self.username or "",
                      "sasl.password": self.password or ""}
        return props


def state_folder() -> Path:
    """The local stack's state folder (deploy/local/stack.py uses the same rule)."""
    if os.environ.get("SIKS_STATE"):
        return Path(os.environ["SIKS_STATE"])
    # kit/siks_kit/bus/kafka_access.py -> the checkout's root (the workspace installs kit editable)
    return Path(__file__).resolve().parents[3] / "var" / "stack"


def local_secrets(state: Path | None = None) -> dict[str, Any] | None:
    """What `stack.py up` generated: {bootstrap, security_protocol, sasl_mechanism, users: {name: password}}."""
    try:
        return json.loads(((state or state_folder()) / SECRETS_FILE).read_text())
    except (OSError, ValueError):
        return None


def from_settings(settings: Any) -> KafkaAccess:
    """A service's own principal (ServiceSettings: kafka_bootstrap, kafka_security_protocol, ...)."""
    protocol = (settings.kafka_security_protocol or "PLAINTEXT").upper()
    if protocol.startswith("SASL_") and not (settings.kafka_username and settings.kafka_password):
        raise RuntimeError("SIKS_KAFKA_SECURITY_PROTOCOL is SASL_*: set SIKS_KAFKA_USERNAME and SIKS_KAFKA_PASSWORD")
    return KafkaAccess(settings.kafka_bootstrap, protocol, settings.kafka_sasl_mechanism,
                       settings.kafka_username, settings.kafka_password)


def for_tools(bootstrap: str | None = None, principal: str | None = None) -> KafkaAccess:
    """Access for a tool or test: the environment's principal, else the local stack's
    (`admin` unless `principal` says otherwise), else an unauthenticated client."""
    env = os.environ
    if env.get("SIKS_KAFKA_USERNAME") and principal in (None, env["SIKS_KAFKA_USERNAME"]):
        return KafkaAccess(bootstrap or env.get("SIKS_KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
                           env.get("SIKS_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT").upper(),
                           env.get("SIKS_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"),
                           env["SIKS_KAFKA_USERNAME"], env.get("SIKS_KAFKA_PASSWORD", ""))
    secrets = local_secrets()
    if secrets is not None:
        name = principal or TOOLS_PRINCIPAL
        users = secrets.get("users", {})
        if name not in users:
            raise LookupError(f"no Kafka principal {name!r} in the local stack's secrets; known: {', '.join(users)}")
        return KafkaAccess(bootstrap or env.get("SIKS_KAFKA_BOOTSTRAP") or secrets["bootstrap"],
                           secrets.get("security_protocol", "SASL_PLAINTEXT"),
                           secrets.get("sasl_mechanism", "SCRAM-SHA-512"), name, users[name])
    if principal is not None:
        raise LookupError(f"no credentials for Kafka principal {principal!r}: no local stack secrets "
                          f"({state_folder() / SECRETS_FILE}) and SIKS_KAFKA_USERNAME unset")
    return KafkaAccess(bootstrap or env.get("SIKS_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))


def client_args(bootstrap: str | KafkaAccess | None = None, principal: str | None = None) -> dict[str, Any]:
    """aiokafka keyword arguments for a tool: `bootstrap` may already be a KafkaAccess."""
    if isinstance(bootstrap, KafkaAccess):
        return bootstrap.client_args()
    return for_tools(bootstrap, principal).client_args()
