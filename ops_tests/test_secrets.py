"""Runbook, preflight: the secret bundle loads from Vault or AWS Secrets Manager.

Before a deploy, the service's secrets must be readable with the deploy's credentials: the
backend answers, the credentials are good for long enough, and the bundle holds every key the
contract lists. Nothing here prints a secret: each test judges findings whose messages name
keys, paths and statuses only.
"""
import pytest

from fixtures.asserts import check_findings

pytestmark = [pytest.mark.secrets, pytest.mark.preflight]


@pytest.fixture
def findings_of(request, secrets_context, secrets_findings):
    """findings_of(check) -> the findings of one check, or a skip saying why it does not apply.

    It does not apply when no backend could be chosen, or when the test is about another
    backend's checks (its ``secrets_backend`` marker) than the one the env file chooses. With
    the test's own backend chosen, a missing check is the suite's bug: check_findings fails on it.
    """
    from flash_green_ops import secrets

    def select(check: str):
        __tracebackhide__ = True
        backend = next(f for f in secrets_findings if f.check == "secrets.backend")
        if check != backend.check and backend.status.value in ("SKIP", "FAIL"):
            pytest.skip(f"{check} needs a secret backend: {backend.message}")
        marker = request.node.get_closest_marker("secrets_backend")
        if marker is not None and secrets.choose_backend(secrets_context).backend not in marker.args:
            pytest.skip(f"{check} does not apply: {backend.message}")
        return [f for f in secrets_findings if f.check == check]

    return select


def test_one_secret_backend_is_chosen(findings_of):
    """Vault or AWS: the one configured, or the one SECRETS_BACKEND names."""
    check_findings(findings_of("secrets.backend"))


@pytest.mark.secrets_backend("vault")
def test_vault_is_initialised_unsealed_and_active(findings_of):
    check_findings(findings_of("secrets.vault_health"))


@pytest.mark.secrets_backend("vault")
def test_vault_token_is_valid_and_not_about_to_expire(findings_of):
    check_findings(findings_of("secrets.vault_token"))


@pytest.mark.secrets_backend("vault")
def test_vault_secret_path_is_in_a_kv_mount(findings_of):
    check_findings(findings_of("secrets.vault_mount"))


@pytest.mark.secrets_backend("aws")
def test_aws_secret_exists_and_is_not_scheduled_for_deletion(findings_of):
    check_findings(findings_of("secrets.aws_secret"))


def test_bundle_holds_every_required_key(findings_of):
    """The bundle is readable and holds every key of the contract's secret_keys, non-empty."""
    check_findings(findings_of("secrets.bundle"))
