"""Runbook, nightly: every live adapter the env enables answers.

"Populate any live adapters you plan to enable (USE_LIVE_FEED, USE_ICE_LIVE, USE_POWERLEDGER_LIVE,
USE_WEB3_LOAN)": the live feed answers (the WebSocket handshake completes for ws:// and wss://),
ICE's and Powerledger's APIs resolve, verify and answer, the web3 node serves WEB3_CHAIN_ID, holds
the loan contract and is synced (--web3-max-block-age). One item per adapter; a disabled one is
skipped with the reason. No credential is ever sent. Not in the preflight (``--stage adapters``).
"""
import pytest

from fixtures.asserts import check_findings_of
from flash_green_ops import adapters

pytestmark = [pytest.mark.adapters]
CHECKS = adapters.check_ids


@pytest.fixture(scope="module")
def step_findings(runbook_context, ensure_service):
    ensure_service("adapters")
    ensure_service("web3")
    return adapters.run(runbook_context)


def test_adapters(check_id, step_findings):
    check_findings_of(step_findings, check_id)
