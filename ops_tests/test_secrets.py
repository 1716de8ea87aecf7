"""Runbook, preflight: the secret bundle loads from Vault or AWS Secrets Manager.

Before a deploy, the service's secrets must be readable with the deploy's credentials: the
backend answers, the credentials are good for long enough, and the bundle holds every key the
contract lists. Nothing here prints a secret: each test judges findings whose messages name
keys, paths and statuses only.
"""
import pytest

from fixtures.asserts import check_findings

pytestmark = [pytest.mark.secrets, pytest.mark.preflight]


def findings_of(findings, check: str):
    """The findings of one check, or a skip saying why it does not apply to this env."""
    __tracebackhide__ = True
    backend = next(f for f in findings if f.check == "secrets.backend")
    selected = [f for f in findings if f.check == check]
    if not selected:
        if backend.status.value in ("SKIP", "FAIL") and check != backend.check:
            pytest.skip(f"{check} needs a secret backend: {backend.message}")
        pytest.skip(f"{check} does not apply: {backend.message}")
    return selected


def test_one_secret_backend_is_chosen(secrets_findings):
    """Vault or AWS: the one configured, or the one SECRETS_BACKEND names."""
    check_findings(findings_of(secrets_findings, "secrets.backend"))


@pytest.mark.secrets_backend("vault")
def test_vault_is_initialised_unsealed_and_active(secrets_findings):
    check_findings(findings_of(secrets_findings, "secrets.vault_health"))


@pytest.mark.secrets_backend("vault")
def test_vault_token_is_valid_and_not_about_to_expire(secrets_findings):
    check_findings(findings_of(secrets_findings, "secrets.vault_token"))


@pytest.mark.secrets_backend("vault")
def test_vault_secret_path_is_in_a_kv_mount(secrets_findings):
    check_findings(findings_of(secrets_findings, "secrets.vault_mount"))


@pytest.mark.secrets_backend("aws")
def test_aws_secret_exists_and_is_not_scheduled_for_deletion(secrets_findings):
    check_findings(findings_of(secrets_findings, "secrets.aws_secret"))


def test_bundle_holds_every_required_key(secrets_findings):
    """The bundle is readable and holds every key of the contract's secret_keys, non-empty."""
    check_findings(findings_of(secrets_findings, "secrets.bundle"))
