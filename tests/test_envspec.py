"""Every rule of the env contract, with a passing and a failing case, through the library."""
from __future__ import annotations

import textwrap

import pytest

from flash_green_ops import envspec
from flash_green_ops.preflight import new_context
from flash_green_ops.contract import load_contract
from flash_green_ops.envfile import parse_env_text
from flash_green_ops.findings import Status
from flash_green_ops.settings import Settings
from tests.conftest import assert_no_secrets

CONTRACT = load_contract()

STAGING = """\
APP_ENV=staging
API_KEY=k-3f9a7c1e5b
CLIENT_CERT_SUBJECT_HEADER=X-Client-Subject
DATABASE_URL=postgresql://app:pw-8d7e6f@db.internal:5432/flash?sslmode=prefer
VAULT_ADDR=https://vault.internal:8200
VAULT_TOKEN=hvs.tok-1a2b3c4d
VAULT_SECRET_PATH=kv/flash-green
USE_LIVE_FEED=false
"""

PRODUCTION = """\
APP_ENV=production
API_KEY=k-3f9a7c1e5b
OIDC_ISSUER=https://login.flash.example/realms/fg
OIDC_AUDIENCE=fg-api
DATABASE_URL=postgresql://app:pw-8d7e6f@db.internal:5432/flash?sslmode=verify-full
VAULT_ADDR=https://vault.internal:8200
VAULT_TOKEN=hvs.tok-1a2b3c4d
VAULT_SECRET_PATH=kv/flash-green
"""


def judge(text: str, rule: str, environment: str | None = None, name: str = "test.env"):
    source = parse_env_text(textwrap.dedent(text), name)
    ctx = new_context(source, CONTRACT, Settings(environment=environment))
    return envspec.evaluate(ctx, [rule])


def edit(base: str, **changes: str | None) -> str:
    """``base`` with keys changed (a value), removed (None), or added at the end."""
    lines, done = [], set()
    for line in base.splitlines():
        key = line.split("=", 1)[0]
        if key in changes:
            done.add(key)
            if changes[key] is not None:
                lines.append(f"{key}={changes[key]}")
        else:
            lines.append(line)
    lines += [f"{k}={v}" for k, v in changes.items() if k not in done and v is not None]
    return "\n".join(lines) + "\n"


def test_the_base_envs_pass_every_rule():
    for base, environment in ((STAGING, "staging"), (PRODUCTION, "production")):
        for finding in judge(base, "environment") + [f for r in CONTRACT.rules for f in judge(base, r.id)]:
            assert finding.status in (Status.PASS, Status.SKIP), finding.message
            if finding.status is Status.SKIP:
                assert environment == "staging" and "production only" in finding.message


# (rule, base, changes, environment, expected fragments of the one failure message)
FAILING = [
    ("environment", STAGING, {"APP_ENV": "prod"}, None,
     ["APP_ENV is 'prod'", "test.env line 1", "expected one of staging, production"]),
    ("api-key", STAGING, {"API_KEY": None}, None, ["API_KEY is missing", "(test.env)", "set it"]),
    ("api-key", STAGING, {"API_KEY": "''"}, None, ["API_KEY is empty", "test.env line 2"]),
    ("caller-auth", STAGING, {"CLIENT_CERT_SUBJECT_HEADER": None, "OIDC_ISSUER": "https://idp.example"}, None,
     ["OIDC_ISSUER is set but OIDC_AUDIENCE is missing", "test.env line", "set both OIDC_ISSUER and OIDC_AUDIENCE",
      "or use CLIENT_CERT_SUBJECT_HEADER"]),
    ("caller-auth", STAGING, {"OIDC_AUDIENCE": "fg"}, None,  # an incomplete pair fails even beside the header
     ["OIDC_AUDIENCE is set but OIDC_ISSUER is missing"]),
    ("caller-auth", STAGING, {"CLIENT_CERT_SUBJECT_HEADER": None}, None,
     ["none of CLIENT_CERT_SUBJECT_HEADER or both OIDC_ISSUER and OIDC_AUDIENCE is set"]),
    ("database", STAGING, {"DATABASE_URL": None, "DB_HOST": "db.internal"}, None,
     ["DB_HOST is set but DB_NAME and DB_USER are missing", "set all of DB_HOST, DB_NAME and DB_USER",
      "or use DATABASE_URL"]),
    ("database", STAGING, {"DATABASE_URL": None}, None, ["none of DATABASE_URL or all of DB_HOST"]),
    ("database-tls", PRODUCTION,
     {"DATABASE_URL": "postgresql://app:pw-8d7e6f@db.internal/flash?sslmode=prefer"}, None,
     ["DATABASE_URL's sslmode is 'prefer'", "require, verify-ca or verify-full"]),
    ("database-tls", PRODUCTION, {"DATABASE_URL": "postgresql://app:pw-8d7e6f@db.internal/flash"}, None,
     ["no sslmode is set", "add ?sslmode=verify-full to DATABASE_URL"]),
    ("database-tls", PRODUCTION,
     {"DATABASE_URL": None, "DB_HOST": "db", "DB_NAME": "fg", "DB_USER": "fg", "DB_SSLMODE": "allow"}, None,
     ["DB_SSLMODE is 'allow'", "set DB_SSLMODE=verify-full"]),
    ("vault-settings", STAGING, {"VAULT_TOKEN": None}, None,
     ["VAULT_ADDR and VAULT_SECRET_PATH are set but VAULT_TOKEN is missing",
      "set all of VAULT_ADDR, VAULT_TOKEN and VAULT_SECRET_PATH, or none"]),
    ("aws-settings", STAGING, {"AWS_SECRETS_REGION": "eu-west-1"}, None,
     ["AWS_SECRETS_REGION is set but AWS_SECRETS_ID is missing"]),
    ("secret-backend", STAGING, {"AWS_SECRETS_REGION": "eu-west-1", "AWS_SECRETS_ID": "fg"}, None,
     ["both vault and aws secret backends are configured", "set SECRETS_BACKEND to vault or aws"]),
    ("secret-backend", STAGING, {"SECRETS_BACKEND": "aws"}, None,
     ["SECRETS_BACKEND is 'aws'", "AWS_SECRETS_REGION and AWS_SECRETS_ID are not set"]),
    ("secret-backend", PRODUCTION,
     {"AWS_SECRETS_REGION": "eu-west-1", "AWS_SECRETS_ID": "fg", "SECRETS_BACKEND": "vault"}, None,
     ["production configures exactly one"]),
    ("secret-backend", PRODUCTION, {"VAULT_ADDR": None, "VAULT_TOKEN": None, "VAULT_SECRET_PATH": None}, None,
     ["no secret backend is configured", "production needs exactly one"]),
    ("adapter-flags", STAGING, {"USE_LIVE_FEED": "maybe"}, None,
     ["USE_LIVE_FEED is 'maybe'", "test.env line", "true/false/1/0/yes/no/on/off"]),
    ("live-feed", STAGING, {"USE_LIVE_FEED": "TRUE"}, None,
     ["USE_LIVE_FEED is true", "but LIVE_FEED_URL is missing", "or set USE_LIVE_FEED=false"]),
    ("ice-live", STAGING, {"USE_ICE_LIVE": "yes", "ICE_USERNAME": "fg"}, None,
     ["USE_ICE_LIVE is true", "ICE_API_URL and ICE_PASSWORD are missing"]),
    ("powerledger-live", STAGING, {"USE_POWERLEDGER_LIVE": "On"}, None,
     ["POWERLEDGER_API_URL and POWERLEDGER_API_KEY are missing"]),
    ("web3-loan", STAGING, {"USE_WEB3_LOAN": "1", "WEB3_RPC_URL": "https://rpc.example"}, None,
     ["USE_WEB3_LOAN is true", "but WEB3_LOAN_CONTRACT is missing"]),
    ("value-formats", STAGING, {"DB_PORT": "65536"}, None, ["DB_PORT is '65536'", "from 1 to 65535"]),
    ("value-formats", STAGING, {"METRICS_PORT": "eighty"}, None, ["METRICS_PORT is 'eighty'"]),
    # "²" is a digit to str.isdigit() but not to int(): a failure, not a crash.
    ("value-formats", STAGING, {"METRICS_PORT": "²"}, None, ["METRICS_PORT is '²'"]),
    ("value-formats", STAGING, {"DATABASE_URL": "mysql://app:pw-8d7e6f@db/flash"}, None,
     ["DATABASE_URL has scheme 'mysql://'", "expected postgresql:// or postgres://"]),
    ("value-formats", STAGING, {"LIVE_FEED_URL": "ftp://feed.example"}, None,
     ["LIVE_FEED_URL has scheme 'ftp://'", "ws://, wss://, http:// or https://"]),
    ("value-formats", STAGING, {"WEB3_LOAN_CONTRACT": "0x1234"}, None,
     ["WEB3_LOAN_CONTRACT is not 0x followed by 40 hex digits"]),
    ("value-formats", STAGING, {"DB_SSLMODE": "required"}, None, ["DB_SSLMODE is 'required'", "verify-full"]),
    ("value-formats", STAGING, {"SECRETS_BACKEND": "gcp"}, None, ["SECRETS_BACKEND is 'gcp'"]),
    ("value-formats", STAGING, {"SERVICE_URL": "localhost:8080"}, None, ["SERVICE_URL is not a URL"]),
    ("value-formats", STAGING, {"METRICS_URL": "http://prom:pw-1@127.0.0.1:99999/metrics"}, None,
     ["METRICS_URL has a port that is not an integer from 1 to 65535"]),
    ("production-schemes", PRODUCTION, {"VAULT_ADDR": "http://vault.internal:8200"}, None,
     ["VAULT_ADDR uses http://", "production requires https://"]),
    ("production-schemes", PRODUCTION, {"OIDC_ISSUER": "http://login.flash.example"}, None,
     ["OIDC_ISSUER uses http://"]),
    ("production-schemes", PRODUCTION, {"USE_LIVE_FEED": "true", "LIVE_FEED_URL": "ws://feed.example"}, None,
     ["LIVE_FEED_URL uses ws://", "wss:// or https://"]),
    ("no-surrounding-whitespace", STAGING, {"DB_PORT": "'5432 '"}, None,
     ["DB_PORT has leading or trailing whitespace", "test.env line 9"]),
    ("no-surrounding-whitespace", STAGING, {"OIDC_AUDIENCE": " fg"}, None,
     ["OIDC_AUDIENCE has leading or trailing whitespace"]),
    ("no-placeholders", STAGING, {"API_KEY": "changeme"}, None, ["API_KEY holds a placeholder", "line 2"]),
    ("no-placeholders", STAGING, {"VAULT_SECRET_PATH": "<path>"}, None, ["VAULT_SECRET_PATH holds a placeholder"]),
    ("no-placeholders", STAGING, {"VAULT_SECRET_PATH": "${SECRET_PATH}"}, None, ["VAULT_SECRET_PATH holds a placeholder"]),
    ("no-placeholders", STAGING, {"OIDC_AUDIENCE": "TBD"}, None, ["OIDC_AUDIENCE holds a placeholder"]),
    ("no-placeholders", STAGING, {"ICE_USERNAME": "xxxxxx"}, None, ["ICE_USERNAME holds a placeholder"]),
    ("no-placeholders", STAGING, {"DATABASE_URL": "postgresql://app:change-me@db/flash"}, None,
     ["DATABASE_URL holds a placeholder"]),
    ("no-placeholders", STAGING, {"CLIENT_CERT_SUBJECT_HEADER": None,
                                  "OIDC_ISSUER": "https://login.example.com/realms/flash-green",
                                  "OIDC_AUDIENCE": "fg"}, None,
     ["OIDC_ISSUER still has the template's sample value", "test.env line 8"]),
    ("no-conflicting-duplicates", STAGING + "API_KEY=k-other\n", {}, None,
     ["API_KEY is set 2 times with different values", "lines 2, 9", "the last, line 9, is the one in effect"]),
]


@pytest.mark.parametrize("rule, base, changes, environment, expected", FAILING,
                         ids=[f"{case[0]}-{i}" for i, case in enumerate(FAILING)])
def test_rule_fails_with_a_message_that_names_it(rule, base, changes, environment, expected):
    findings = judge(edit(base, **changes), rule, environment)
    failures = [f for f in findings if f.status is Status.FAIL]
    assert len(failures) == 1, [f.message for f in findings]
    for fragment in expected:
        assert fragment in failures[0].message
    assert failures[0].check == f"env.{rule}"


PASSING = [
    ("environment", STAGING, {"APP_ENV": None}, None),
    ("caller-auth", STAGING, {"CLIENT_CERT_SUBJECT_HEADER": None, "OIDC_ISSUER": "https://idp.example",
                              "OIDC_AUDIENCE": "fg"}, None),
    ("database", STAGING, {"DATABASE_URL": None, "DB_HOST": "db", "DB_NAME": "fg", "DB_USER": "fg",
                           "DB_PORT": "6432"}, None),
    ("database-tls", PRODUCTION, {"DATABASE_URL": None, "DB_HOST": "db", "DB_NAME": "fg", "DB_USER": "fg",
                                  "DB_SSLMODE": "require"}, None),
    ("secret-backend", STAGING, {"AWS_SECRETS_REGION": "eu-west-1", "AWS_SECRETS_ID": "fg",
                                 "SECRETS_BACKEND": "aws"}, None),
    ("secret-backend", STAGING, {"VAULT_ADDR": None, "VAULT_TOKEN": None, "VAULT_SECRET_PATH": None}, None),
    ("secret-backend", PRODUCTION, {"VAULT_ADDR": None, "VAULT_TOKEN": None, "VAULT_SECRET_PATH": None,
                                    "AWS_SECRETS_REGION": "eu-west-1", "AWS_SECRETS_ID": "fg"}, None),
    ("adapter-flags", STAGING, {"USE_LIVE_FEED": "", "USE_ICE_LIVE": "OFF", "USE_WEB3_LOAN": "No"}, None),
    ("live-feed", STAGING, {"USE_LIVE_FEED": "true", "LIVE_FEED_URL": "wss://feed.example/s"}, None),
    ("ice-live", STAGING, {"USE_ICE_LIVE": "1", "ICE_API_URL": "https://ice.example", "ICE_USERNAME": "fg",
                           "ICE_PASSWORD": "ice-pw-77"}, None),
    ("powerledger-live", STAGING, {"USE_POWERLEDGER_LIVE": "yes", "POWERLEDGER_API_URL": "https://pl.example",
                                   "POWERLEDGER_API_KEY": "pl-key-77"}, None),
    ("web3-loan", STAGING, {"USE_WEB3_LOAN": "on", "WEB3_RPC_URL": "https://rpc.example",
                            "WEB3_LOAN_CONTRACT": "0x" + "aB" * 20}, None),
    ("value-formats", STAGING, {"DB_PORT": "1", "METRICS_PORT": "65535", "DB_SSLMODE": "verify-ca",
                                "DATABASE_URL": "postgres://app:pw-8d7e6f@db:6543/flash"}, None),
    ("production-schemes", PRODUCTION, {"USE_LIVE_FEED": "true", "LIVE_FEED_URL": "wss://feed.example"}, None),
    ("no-surrounding-whitespace", STAGING, {"OIDC_AUDIENCE": "'fg'  # a comment"}, None),
    ("no-placeholders", STAGING, {"OIDC_AUDIENCE": "todo-service", "DB_PORT": "5432", "METRICS_PORT": "8000"}, None),
    ("no-conflicting-duplicates", STAGING + "API_KEY=k-3f9a7c1e5b\n", {}, None),
    ("known-keys", STAGING, {}, None),
]


@pytest.mark.parametrize("rule, base, changes, environment", PASSING,
                         ids=[f"{case[0]}-{i}" for i, case in enumerate(PASSING)])
def test_rule_passes(rule, base, changes, environment):
    findings = judge(edit(base, **changes), rule, environment)
    assert [f.status for f in findings] == [Status.PASS], [f.message for f in findings]


def test_database_url_wins_over_db_settings_with_a_warning():
    findings = judge(edit(STAGING, DB_HOST="other", DB_PORT="6432"), "database")
    assert [f.status for f in findings] == [Status.WARN]
    assert "DATABASE_URL is set, so it wins and DB_HOST and DB_PORT are ignored" in findings[0].message
    assert "test.env lines 9, 10" in findings[0].message


def test_unknown_keys_are_warnings_with_a_guess():
    findings = judge(edit(STAGING, OIDC_AUDIANCE="fg"), "known-keys")
    assert [f.status for f in findings] == [Status.WARN]
    assert "OIDC_AUDIANCE is not a key the contract knows (test.env line 9): did you mean OIDC_AUDIENCE?" \
        in findings[0].message


def test_unknown_app_env_applies_the_production_rules():
    findings = judge(edit(STAGING, APP_ENV="prod"), "database-tls")
    assert findings[0].status is Status.FAIL  # sslmode=prefer is not enough for production


def test_environment_flag_overrides_app_env_with_a_warning():
    findings = judge(STAGING, "environment", environment="production")
    assert findings[0].status is Status.WARN
    assert "APP_ENV is 'staging'" in findings[0].message and "checking as production" in findings[0].message
    assert judge(STAGING, "database-tls", environment="production")[0].status is Status.FAIL


def test_production_only_rules_skip_on_staging_with_the_reason():
    findings = judge(STAGING, "database-tls")
    assert findings[0].status is Status.SKIP
    assert findings[0].message == "applies to production only; this is staging"


def test_process_environment_judges_only_the_contract_keys():
    from flash_green_ops.envfile import from_environ

    environ = {"PATH": "/usr/bin", "HOME": " /root ", "API_KEY": "k-1", "CLIENT_CERT_SUBJECT_HEADER": "X-S",
               "DATABASE_URL": "postgresql://a@db/x"}
    ctx = new_context(from_environ(environ), CONTRACT, Settings())
    findings = envspec.evaluate(ctx)
    assert not [f for f in findings if f.status in (Status.FAIL, Status.WARN)], [f.message for f in findings]
    assert ctx.source.where("API_KEY") == "process environment"


def test_messages_never_quote_secret_or_url_values():
    secret = "pw-" + "s3cr3t-v4lue"
    text = edit(STAGING, API_KEY=f"'{secret} '", DATABASE_URL=f"mysql://app:{secret}@db/x",
                VAULT_TOKEN=f"<{secret}>")
    messages = " ".join(f.message for r in CONTRACT.rules for f in judge(text, r.id))
    assert "API_KEY has leading or trailing whitespace" in messages
    assert_no_secrets([secret], messages)
