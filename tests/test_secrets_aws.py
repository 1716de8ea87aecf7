"""The secrets step against AWS Secrets Manager: every failure provoked for real with moto's server.

Each scenario is judged in process (the finding and its message) and as operators see it:
the preflight CLI's text and JSON and the runbook suite's JUnit XML, none of which may hold the
access key's secret or a bundle value.
"""
from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field

import pytest

from fixtures.moto_server import REGION, MotoStandin
from fixtures.services import random_secret
from flash_green_ops import redact, secrets
from flash_green_ops.findings import Status
from tests.conftest import REPO, closed_port
from tests.secrets_scenarios import step, bundle, check_scenario, check_unreachable, context_of, env_file, the

SECRET_ID = "flash-green/bundle"


@dataclass
class AwsSetup:
    """moto's server holding a valid bundle under SECRET_ID; env values that reach it."""

    moto: MotoStandin
    values: dict[str, str] = field(repr=False)
    env: dict[str, str] = field(repr=False)
    extra_secrets: list[str] = field(default_factory=list, repr=False)

    @property
    def secrets(self) -> list[str]:
        values = [self.env["AWS_SECRET_ACCESS_KEY"], *self.values.values(), *self.extra_secrets]
        return [v for v in values if v]

    def put(self, name: str, secret_string: str) -> None:
        self.extra_secrets.append(secret_string)
        self.moto.put_secret(name, secret_string)


@pytest.fixture
def aws_setup(moto_standin) -> AwsSetup:
    values = bundle()
    moto_standin.put_secret(SECRET_ID, json.dumps(values))
    env = {"AWS_SECRETS_REGION": REGION, "AWS_SECRETS_ID": SECRET_ID, "AWS_ENDPOINT_URL": moto_standin.url,
           "AWS_ACCESS_KEY_ID": moto_standin.access_key_id,
           "AWS_SECRET_ACCESS_KEY": moto_standin.secret_access_key}
    return AwsSetup(moto_standin, values, env)


# -- the failures the issue names, each seen in every output ------------------------------------

def missing(s: AwsSetup):
    s.env["AWS_SECRETS_ID"] = "flash-green/nothing-here"


def scheduled_for_deletion(s: AwsSetup):
    s.moto.client().delete_secret(SecretId=SECRET_ID, RecoveryWindowInDays=7)


def not_json(s: AwsSetup):
    s.put("flash-green/not-json", "DB_PASSWORD=plain-text-not-json-0123")
    s.env["AWS_SECRETS_ID"] = "flash-green/not-json"


def json_not_object(s: AwsSetup):
    s.put("flash-green/array", json.dumps(["list-item-secret-value-0123"]))
    s.env["AWS_SECRETS_ID"] = "flash-green/array"


def missing_key(s: AwsSetup):
    s.put("flash-green/partial", json.dumps(bundle(API_SIGNING_KEY=None)))
    s.env["AWS_SECRETS_ID"] = "flash-green/partial"


def empty_key(s: AwsSetup):
    s.put("flash-green/empty", json.dumps(bundle(API_SIGNING_KEY="  ")))
    s.env["AWS_SECRETS_ID"] = "flash-green/empty"


SCENARIOS = [
    pytest.param(missing, "secrets.aws_secret", "FAIL",
                 f"secrets.env line 3) does not exist in {REGION} "
                 f"(DescribeSecret: ResourceNotFoundException)", id="missing"),
    pytest.param(scheduled_for_deletion, "secrets.aws_secret", "FAIL",
                 "secrets.env line 3) is scheduled for deletion (DeletedDate ",
                 id="scheduled-for-deletion"),
    pytest.param(not_json, "secrets.bundle", "FAIL",
                 "secret flash-green/not-json's SecretString is not JSON (Expecting value at line 1 column 1)",
                 id="not-json"),
    pytest.param(json_not_object, "secrets.bundle", "FAIL",
                 "secret flash-green/array's SecretString is JSON but an array, not an object", id="json-array"),
    pytest.param(missing_key, "secrets.bundle", "FAIL", "secret flash-green/partial lacks API_SIGNING_KEY",
                 id="missing-key"),
    pytest.param(empty_key, "secrets.bundle", "FAIL", "secret flash-green/empty has an empty API_SIGNING_KEY",
                 id="empty-key"),
]


@pytest.mark.parametrize("arrange, check, status, fragment", SCENARIOS)
def test_aws_scenario_is_reported_everywhere_without_secrets(pytester, aws_setup, arrange, check, status, fragment):
    check_scenario(pytester, aws_setup, arrange, check, status, fragment)


@pytest.mark.parametrize("listener", ["silent", "closed"])
def test_unreachable_endpoint_fails_within_the_timeout(pytester, aws_setup, listener):
    failure = check_unreachable(pytester, aws_setup, listener, "AWS_ENDPOINT_URL", "secrets.aws_secret",
                                "AWS Secrets Manager", skipped=("secrets.bundle",))
    assert "check AWS_ENDPOINT_URL (" in failure.message


# -- the rest of the AWS behaviour, in process -------------------------------------------------

def run(s: AwsSetup, tmp_path, **settings):
    return step(context_of(env_file(tmp_path, s.env), **settings))


def test_healthy_secret_passes_and_sets_the_bundle(aws_setup, tmp_path):
    ctx = context_of(env_file(tmp_path, aws_setup.env))
    findings = step(ctx)
    assert [f.check for f in findings] == ["secrets.backend", *secrets.aws.CHECKS]
    assert all(f.status is Status.PASS for f in findings), [f.message for f in findings]
    same = ctx.bundle == aws_setup.values  # compared, never printed
    assert same, "ctx.bundle is not the bundle stored in Secrets Manager"


def test_secret_found_by_arn(aws_setup, tmp_path):
    arn = aws_setup.moto.client().describe_secret(SecretId=SECRET_ID)["ARN"]
    aws_setup.env["AWS_SECRETS_ID"] = arn
    assert all(f.status is Status.PASS for f in run(aws_setup, tmp_path))


def test_wrong_region_is_not_found(aws_setup, tmp_path):
    aws_setup.env["AWS_SECRETS_REGION"] = "us-west-2"
    secret = the(run(aws_setup, tmp_path), "secrets.aws_secret")
    assert secret.status is Status.FAIL and "does not exist in us-west-2" in secret.message


def test_binary_secret_is_not_a_bundle(aws_setup, tmp_path):
    aws_setup.moto.put_secret("flash-green/binary", SecretBinary=b"\x00\x01binary-bundle")
    aws_setup.env["AWS_SECRETS_ID"] = "flash-green/binary"
    finding = the(run(aws_setup, tmp_path), "secrets.bundle")
    assert finding.status is Status.FAIL and "holds SecretBinary, not a SecretString" in finding.message


@pytest.mark.parametrize("document, kind", [('"a-json-string-value"', "a string"), ("12345", "a number"),
                                            ("null", "null")])
def test_every_non_object_json_is_named(aws_setup, tmp_path, document, kind):
    aws_setup.put("flash-green/scalar", document)
    aws_setup.env["AWS_SECRETS_ID"] = "flash-green/scalar"
    finding = the(run(aws_setup, tmp_path), "secrets.bundle")
    assert finding.status is Status.FAIL and f"is JSON but {kind}, not an object" in finding.message


def _deployer(moto: MotoStandin, actions: list[str]) -> dict[str, str]:
    """An IAM user of moto's allowed only ``actions`` on secrets; its access key."""
    iam = moto.client("iam", region="us-east-1")
    iam.create_user(UserName="deployer")
    policy = {"Version": "2012-10-17",
              "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}
    iam.put_user_policy(UserName="deployer", PolicyName="secrets", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="deployer")["AccessKey"]
    return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}


def test_read_denied_by_iam_fails(aws_setup, tmp_path):
    """moto's IAM enforcement: DescribeSecret allowed, GetSecretValue not."""
    aws_setup.env.update(_deployer(aws_setup.moto, ["secretsmanager:DescribeSecret"]))
    aws_setup.moto.enforce_iam()
    findings = run(aws_setup, tmp_path)
    assert the(findings, "secrets.aws_secret").status is Status.PASS
    bundle_finding = the(findings, "secrets.bundle")
    assert bundle_finding.status is Status.FAIL
    assert "AWS refused GetSecretValue on secret flash-green/bundle (" in bundle_finding.message
    assert "secrets.env line 3) with HTTP 403" in bundle_finding.message
    assert "grant secretsmanager:GetSecretValue" in bundle_finding.message


def test_describe_denied_warns_and_the_read_decides(aws_setup, tmp_path):
    """A least-privilege role may read a secret without describing it."""
    aws_setup.env.update(_deployer(aws_setup.moto, ["secretsmanager:GetSecretValue"]))
    aws_setup.moto.enforce_iam()
    findings = run(aws_setup, tmp_path)
    secret = the(findings, "secrets.aws_secret")
    assert secret.status is Status.WARN and "DescribeSecret on flash-green/bundle is denied" in secret.message
    assert the(findings, "secrets.bundle").status is Status.PASS


def test_env_file_credentials_are_used_not_the_process_ones(aws_setup, tmp_path, monkeypatch):
    # With IAM enforced, only the env file's deployer key is accepted: the process's unknown
    # key would be rejected, and its endpoint refuses connections.
    aws_setup.env.update(_deployer(aws_setup.moto, ["secretsmanager:DescribeSecret",
                                                    "secretsmanager:GetSecretValue"]))
    aws_setup.moto.enforce_iam()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAPROCESSENVIRON00")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "process-environment-secret-key")
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{closed_port()}")
    findings = run(aws_setup, tmp_path)
    assert all(f.status is Status.PASS for f in findings), [f.message for f in findings]


def test_process_endpoint_url_is_used_when_the_file_has_none(aws_setup, tmp_path, monkeypatch):
    """boto3's own AWS_ENDPOINT_URL support: the standard configuration chain still applies."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_setup.env.pop("AWS_ENDPOINT_URL"))
    assert all(f.status is Status.PASS for f in run(aws_setup, tmp_path))


def test_preflight_imports_only_the_backend_it_uses(aws_setup, tmp_path):
    path = env_file(tmp_path, aws_setup.env)
    code = ("import sys; from flash_green_ops import cli, secrets;"
            "assert 'hvac' not in sys.modules and 'boto3' not in sys.modules, 'imported too early';"
            "from flash_green_ops import settings; p = cli.Parser(); settings.add_options(p.add_argument, settings.ENV_OPTIONS);"
            f"ctx = cli.load_context(p.parse_args(['--env-file', {str(path)!r}]));"
            "fs = [f for f in secrets.run(ctx) if f.applies];"
            "assert 'boto3' in sys.modules and 'hvac' not in sys.modules, 'hvac imported for AWS';"
            "print([f.status.value for f in fs])")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "['PASS', 'PASS', 'PASS']"


@pytest.mark.parametrize("key, value, fragment", [
    ("AWS_SECRETS_REGION", "eu west", "InvalidRegionError"),
    ("AWS_ENDPOINT_URL", "not a url", "Invalid endpoint"),
])
def test_malformed_client_settings_are_one_finding(aws_setup, tmp_path, key, value, fragment):
    aws_setup.env[key] = value
    findings = run(aws_setup, tmp_path)
    secret = the(findings, "secrets.aws_secret")
    assert secret.status is Status.FAIL and "boto3 cannot make a Secrets Manager client" in secret.message
    assert fragment in secret.message
    assert the(findings, "secrets.bundle").status is Status.SKIP


def test_loaded_values_are_registered_secret_at_once(aws_setup, tmp_path):
    unseen = random_secret("never-registered-before")
    # Created with the bare client, so only the step's own reading can register the value.
    aws_setup.moto.client().create_secret(
        Name="flash-green/fresh", SecretString=json.dumps({"DB_PASSWORD": unseen, "API_SIGNING_KEY": "k" * 12}))
    aws_setup.env["AWS_SECRETS_ID"] = "flash-green/fresh"
    unregistered = redact.mask(unseen) == unseen
    assert unregistered, "the value was registered before the step read it"
    assert all(f.status is Status.PASS for f in run(aws_setup, tmp_path))
    registered = redact.mask(unseen) == redact.MASK
    assert registered, "the value the step read was not registered secret"
