"""Runbook, nightly and preflight: every TLS endpoint's certificate is good for a while yet.

For Vault, SERVICE_URL, METRICS_URL, the enabled adapters and PostgreSQL (when sslmode asks for
TLS): the chain verifies with the configured CA, the host name matches, and the certificate does
not expire within --cert-min-days (a warning naming host, subject, issuer and date; a failure
once expired or not yet valid). Here every problem fails the item; the preflight reports them as
warnings. An endpoint without TLS is skipped with the reason.
"""
import pytest

from fixtures.asserts import check_findings_of
from flash_green_ops import tls

pytestmark = [pytest.mark.tls, pytest.mark.preflight]
CHECKS = tls.check_ids
# The services whose endpoints the step may connect to, by check.
SERVICE_OF = {"tls.vault": "vault", "tls.service": "service", "tls.metrics": "service", "tls.live_feed": "adapters",
              "tls.ice": "adapters", "tls.powerledger": "adapters", "tls.web3": "web3", "tls.db": "postgres"}


@pytest.fixture(scope="module")
def step_findings(runbook_context, ensure_service):
    for entry in tls.endpoints_of(runbook_context):
        if isinstance(entry, tls.Endpoint):
            ensure_service(SERVICE_OF[entry.check])
    return tls.run(runbook_context)


def test_tls(check_id, step_findings):
    check_findings_of(step_findings, check_id)
