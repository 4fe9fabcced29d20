"""Which credentials a Kafka client of ours uses, and what `siks kafka-config` prints."""

import json

import pytest
from siks_kit import cli
from siks_kit.bus import kafka_access
from siks_kit.runtime.settings import ServiceSettings

SECRETS = {"bootstrap": "127.0.0.1:49092", "security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-512",
           "users": {"admin": "a" * 48, "integrator": "i" * 48}}


@pytest.fixture
def stack_state(tmp_path, monkeypatch):
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "kafka.json").write_text(json.dumps(SECRETS))
    monkeypatch.setenv("SIKS_STATE", str(tmp_path))
    for var in ("SIKS_KAFKA_USERNAME", "SIKS_KAFKA_PASSWORD", "SIKS_KAFKA_BOOTSTRAP"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def test_tools_log_in_as_the_local_stacks_admin(stack_state):
    args = kafka_access.client_args("127.0.0.1:49092")
    assert args["sasl_plain_username"] == "admin" and args["sasl_plain_password"] == "a" * 48
    assert args["security_protocol"] == "SASL_PLAINTEXT" and args["sasl_mechanism"] == "SCRAM-SHA-512"


def test_the_environments_principal_comes_first(stack_state, monkeypatch):
    monkeypatch.setenv("SIKS_KAFKA_USERNAME", "registry")
    monkeypatch.setenv("SIKS_KAFKA_PASSWORD", "r" * 48)
    assert kafka_access.for_tools("h:1").username == "registry"
    assert kafka_access.for_tools("h:1", "integrator").username == "integrator"  # asked by name: the file's


def test_no_secrets_and_no_environment_is_an_unauthenticated_client(tmp_path, monkeypatch):
    monkeypatch.setenv("SIKS_STATE", str(tmp_path))
    monkeypatch.delenv("SIKS_KAFKA_USERNAME", raising=False)
    assert kafka_access.client_args("h:1") == {"bootstrap_servers": "h:1", "security_protocol": "PLAINTEXT"}
    with pytest.raises(LookupError):
        kafka_access.for_tools("h:1", "integrator")


def test_a_service_asked_to_use_sasl_without_credentials_refuses_to_start():
    settings = ServiceSettings(kafka_security_protocol="SASL_PLAINTEXT", kafka_username=None)
    with pytest.raises(RuntimeError, match="SIKS_KAFKA_USERNAME"):
        kafka_access.from_settings(settings)


def test_the_password_is_never_in_a_repr(stack_state):
    assert "a" * 48 not in repr(kafka_access.for_tools())
    assert "s3cret" not in repr(ServiceSettings(kafka_password="s3cret"))


def test_kafka_config_prints_librdkafka_properties(stack_state, capsys):
    assert cli.main(["kafka-config", "integrator"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["bootstrap.servers=127.0.0.1:49092", "security.protocol=SASL_PLAINTEXT",
                     "sasl.mechanisms=SCRAM-SHA-512", "sasl.username=integrator", f"sasl.password={'i' * 48}"]


def test_kafka_config_of_an_unknown_principal_fails(stack_state, capsys):
    assert cli.main(["kafka-config", "nobody"]) == 2
    assert "no Kafka principal 'nobody'" in capsys.readouterr().err


def test_the_state_folder_is_the_checkouts_var_stack(monkeypatch):
    from pathlib import Path

    from siks_kit.bus.kafka_access import state_folder
    monkeypatch.delenv("SIKS_STATE", raising=False)
    root = Path(__file__).resolve().parents[2]
    assert state_folder() == root / "var" / "stack" and (root / "deploy" / "local" / "stack.py").exists()
