"""Runbook, preflight: the secret bundle loads from Vault or AWS Secrets Manager.

Before a deploy, the service's secrets must be readable with the deploy's credentials: the
backend answers, the credentials are good for long enough, and the bundle holds every key the
contract lists. One item per check; the checks of the backend the env does not use are skipped
with the reason. Nothing here prints a secret: items judge findings whose messages name keys,
paths and statuses only.
"""
import pytest

from fixtures.asserts import check_findings_of
from flash_green_ops import secrets

pytestmark = [pytest.mark.secrets, pytest.mark.preflight]
CHECKS = secrets.check_ids


@pytest.fixture
def step_findings(secrets_findings):
    """On the local and container targets, once per backend (secrets_context is parametrised)."""
    return secrets_findings


def test_secrets(check_id, step_findings):
    check_findings_of(step_findings, check_id)
