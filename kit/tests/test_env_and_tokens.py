"""SIKS_ENV and the signing key; tokens with iss/aud/iat/exp, a maximum lifetime, and a role that
fits its region; the `siks token` command."""

from datetime import UTC, datetime, timedelta

import jwt
import pytest
from siks_contracts.enums import Role
from siks_kit import cli
from siks_kit.web.auth import AUDIENCE, ISSUER, TokenPolicy, Unauthorized, actor_from_token, fit_region, issue_token
from siks_kit.runtime.settings import DEVELOPMENT_JWT_SECRET, ConfigurationError, ServiceSettings

KEY = "a-test-signing-key-of-32-bytes-or-more"
GOOD_SECRET = "0123456789abcdef0123456789abcdef"  # 32 bytes


def settings(monkeypatch, **env: str) -> ServiceSettings:
    for var in ("SIKS_ENV", "SIKS_JWT_SECRET"):
        monkeypatch.delenv(var, raising=False)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    return ServiceSettings()


# ------------------------------------------------------------------ SIKS_ENV and the key


def test_without_siks_env_nothing_falls_back_to_the_development_key(monkeypatch):
    s = settings(monkeypatch)
    with pytest.raises(ConfigurationError, match="SIKS_ENV is not set"):
        s.environment()
    with pytest.raises(ConfigurationError, match="SIKS_ENV is not set"):
        s.signing_secret()


def test_development_uses_the_development_key_only_when_it_says_so(monkeypatch):
    assert settings(monkeypatch, SIKS_ENV="development").signing_secret() == DEVELOPMENT_JWT_SECRET
    assert settings(monkeypatch, SIKS_ENV="development", SIKS_JWT_SECRET=KEY).signing_secret() == KEY


@pytest.mark.parametrize("secret, why", [
    (None, "must be set"),
    (DEVELOPMENT_JWT_SECRET, "development key"),
    ("x" * 31, "shorter than 32 bytes"),
])
def test_production_refuses_no_key_the_development_key_and_short_keys(monkeypatch, secret, why):
    env = {"SIKS_ENV": "production", **({"SIKS_JWT_SECRET": secret} if secret else {})}
    with pytest.raises(ConfigurationError, match=why):
        settings(monkeypatch, **env).signing_secret()


def test_production_takes_a_long_enough_secret(monkeypatch):
    assert settings(monkeypatch, SIKS_ENV="production", SIKS_JWT_SECRET=GOOD_SECRET).signing_secret() == GOOD_SECRET


def test_unknown_siks_env_is_refused(monkeypatch):
    with pytest.raises(ConfigurationError, match="not one of development, production"):
        settings(monkeypatch, SIKS_ENV="staging").environment()
    with pytest.raises(ConfigurationError, match="not one of"):
        settings(monkeypatch, SIKS_ENV="staging", SIKS_JWT_SECRET=GOOD_SECRET).signing_secret()


def test_a_secret_alone_signs_with_production_rules_when_siks_env_is_unset(monkeypatch):
    # `siks token` on an operator's machine with only SIKS_JWT_SECRET: the same rules as production.
    assert settings(monkeypatch, SIKS_JWT_SECRET=GOOD_SECRET).signing_secret() == GOOD_SECRET
    with pytest.raises(ConfigurationError):
        settings(monkeypatch, SIKS_JWT_SECRET=DEVELOPMENT_JWT_SECRET).signing_secret()


def test_a_service_refuses_to_start_without_siks_env(monkeypatch):
    from siks_testkit.memory import MemoryDatabase, MemoryTransport
    from siks_kit.runtime.service import ServiceSpec, create_service_app

    spec = ServiceSpec("probe", "0", "", (), (), ())
    with pytest.raises(ConfigurationError, match="SIKS_ENV is not set"):
        create_service_app(spec, settings(monkeypatch), routers=[], make_deps=lambda *a: None,
                           make_handlers=lambda d: {}, database=MemoryDatabase(), transport=MemoryTransport())


# ------------------------------------------------------------------ tokens


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_tokens_carry_iss_aud_iat_and_exp_within_the_lifetime():
    c = claims(issue_token(KEY, sub="u1", role=Role.OPERATOR_DESA, region="3204052001"))
    assert {c["iss"], c["aud"]} == {ISSUER, AUDIENCE} and c["region"] == "32.04.05.2001"
    assert 0 < c["exp"] - c["iat"] <= 12 * 3600


def forged(**over) -> str:
    now = int(datetime.now(UTC).timestamp())
    body = {"sub": "u", "role": "mensos", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600, **over}
    return jwt.encode({k: v for k, v in body.items() if v is not None}, KEY, algorithm="HS256")


def test_a_well_formed_forged_token_is_accepted():  # the baseline the refusals below differ from
    assert actor_from_token(forged(), KEY).role is Role.MENSOS


@pytest.mark.parametrize("over", [
    {"iss": None}, {"aud": None}, {"exp": None}, {"iat": None}, {"sub": None}, {"role": None},
    {"iss": "someone-else"}, {"aud": "another-api"},
    {"exp": int(datetime.now(UTC).timestamp()) - 120},  # expired (beyond the leeway)
    {"exp": int(datetime.now(UTC).timestamp()) + 13 * 3600},  # lives longer than 12 h
    {"iat": int(datetime.now(UTC).timestamp()) + 3600, "exp": int(datetime.now(UTC).timestamp()) + 7200},  # future
    {"role": "superuser"}, {"role": "system"},  # unknown, or no person's role
    {"region": "32.04"},  # a national role with a region
    {"role": "operator_desa", "region": "32.04"},  # an operator holds a village
    {"role": "operator_desa"},  # ... exactly one
    {"role": "supervisor_kabkota", "region": "32.04.05.2001"},
    {"role": "kepala_daerah", "region": "32"},
    {"role": "validator_bps", "region": "32.04.05"},
    {"role": "validator_bps", "region": "not-a-region"},
    {"sub": 12},
], ids=repr)
def test_tokens_that_miss_a_claim_or_misfit_are_401(over):
    with pytest.raises(Unauthorized) as caught:
        actor_from_token(forged(**over), KEY)
    assert caught.value.status == 401 and caught.value.type.endswith("/unauthorized")


def test_the_maximum_lifetime_is_the_services_setting():
    token = issue_token(KEY, sub="u", role=Role.MENSOS, region=None, ttl=timedelta(hours=2))
    assert actor_from_token(token, TokenPolicy(KEY, max_ttl=timedelta(hours=2))).sub == "u"
    with pytest.raises(Unauthorized, match="longer than 3600 s"):
        actor_from_token(token, TokenPolicy(KEY, max_ttl=timedelta(hours=1)))


@pytest.mark.parametrize("role, region, fits", [
    (Role.OPERATOR_DESA, "32.04.05.2001", "32.04.05.2001"),
    (Role.SUPERVISOR_KABKOTA, "3204", "32.04"),
    (Role.KEPALA_DAERAH, "32.04", "32.04"),
    (Role.VALIDATOR_BPS, "32.04", "32.04"),
    (Role.VALIDATOR_BPS, "32", "32"),
    (Role.MENSOS, None, None),
    (Role.AUDITOR, None, None),
])
def test_roles_and_regions_that_fit(role, region, fits):
    assert fit_region(role, region) == fits
    assert actor_from_token(issue_token(KEY, sub="u", role=role, region=region), KEY).region == fits


@pytest.mark.parametrize("role, region", [
    (Role.OPERATOR_DESA, None), (Role.OPERATOR_DESA, "32.04"), (Role.SUPERVISOR_KABKOTA, "32"),
    (Role.KEPALA_DAERAH, "32.04.05.2001"), (Role.VALIDATOR_BPS, "32.04.05.2001"), (Role.MENSOS, "32"),
    (Role.AUDITOR, "32.04"), (Role.SYSTEM, None),
])
def test_issuing_a_misfit_is_refused(role, region):
    with pytest.raises(ValueError):
        issue_token(KEY, sub="u", role=role, region=region)


def test_issuing_longer_than_the_maximum_is_refused():
    with pytest.raises(ValueError, match="ttl"):
        issue_token(KEY, sub="u", role=Role.MENSOS, region=None, ttl=timedelta(hours=13))


# ------------------------------------------------------------------ siks token


def test_siks_token_needs_siks_env_or_a_secret(monkeypatch, capsys):
    settings(monkeypatch)
    assert cli.main(["token", "--role", "mensos"]) == 2
    assert "SIKS_ENV is not set" in capsys.readouterr().err
    monkeypatch.setenv("SIKS_JWT_SECRET", GOOD_SECRET)
    assert cli.main(["token", "--role", "mensos"]) == 0
    assert actor_from_token(capsys.readouterr().out.strip(), GOOD_SECRET).role is Role.MENSOS


def test_siks_token_with_sub_ttl_and_region(monkeypatch, capsys):
    settings(monkeypatch, SIKS_ENV="development")
    assert cli.main(["token", "--role", "validator_bps", "--region", "32", "--sub", "budi", "--ttl", "600"]) == 0
    token = capsys.readouterr().out.strip()
    actor = actor_from_token(token, DEVELOPMENT_JWT_SECRET)
    assert (actor.sub, actor.role, actor.region) == ("budi", Role.VALIDATOR_BPS, "32")
    assert claims(token)["exp"] - claims(token)["iat"] == 600


@pytest.mark.parametrize("argv, says", [
    (["--role", "operator_desa", "--region", "32.04"], "holds a village"),
    (["--role", "mensos", "--region", "32"], "national and takes no region"),
    (["--role", "supervisor_kabkota"], "needs a region"),
    (["--role", "mensos", "--ttl", "86400"], "ttl must be between"),
])
def test_siks_token_refuses_misfits_with_a_clear_message(monkeypatch, capsys, argv, says):
    settings(monkeypatch, SIKS_ENV="development")
    assert cli.main(["token", *argv]) == 2
    out = capsys.readouterr()
    assert out.out == "" and says in out.err
